// The Go test program of uk-run's differential tests: each mode prints
// only what is deterministic, so native and uk-run runs must match.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

func hello() {
	fmt.Println("hello from Go", runtime.GOOS, runtime.GOARCH)
	fmt.Fprintln(os.Stderr, "and to stderr")
}

func goroutines() {
	var wg sync.WaitGroup
	in := make(chan int)
	out := make(chan int, 16)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range in {
				out <- v * v
			}
		}()
	}
	go func() {
		for i := 0; i < 1000; i++ {
			in <- i
		}
		close(in)
	}()
	go func() { wg.Wait(); close(out) }()
	sum := 0
	for v := range out {
		sum += v
	}
	var mu sync.Mutex
	n := 0
	var wg2 sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for j := 0; j < 100; j++ {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	wg2.Wait()
	fmt.Println("goroutines: sum of squares", sum, "mutex count", n)
}

func timers() {
	t := time.NewTimer(20 * time.Millisecond)
	<-t.C
	fmt.Println("timers: timer fired")
	tk := time.NewTicker(5 * time.Millisecond)
	ticks := 0
	for range tk.C {
		ticks++
		if ticks == 5 {
			break
		}
	}
	tk.Stop()
	fmt.Println("timers: ticker ticked", ticks, "times")
	done := make(chan bool)
	time.AfterFunc(10*time.Millisecond, func() { done <- true })
	fmt.Println("timers: AfterFunc ran:", <-done)
	start := time.Now()
	time.Sleep(30 * time.Millisecond)
	fmt.Println("timers: slept at least 30ms:", time.Since(start) >= 30*time.Millisecond)
	select {
	case <-time.After(10 * time.Millisecond):
		fmt.Println("timers: select timeout")
	case <-make(chan int):
	}
}

type node struct {
	next *node
	data [64]byte
}

func gc() {
	var keep []*node
	for round := 0; round < 50; round++ {
		var head *node
		for i := 0; i < 10000; i++ {
			head = &node{next: head}
		}
		if round%10 == 0 {
			keep = append(keep, head)
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	count := 0
	for _, h := range keep {
		for n := h; n != nil; n = n.next {
			count++
		}
	}
	fmt.Println("gc: kept", count, "nodes; collections ran:", ms.NumGC > 0)
}

func files() {
	dir, err := os.MkdirTemp("", "gotest")
	if err != nil {
		fmt.Println("files: mkdirtemp:", err)
		return
	}
	defer os.RemoveAll(dir)
	for i := 0; i < 5; i++ {
		name := filepath.Join(dir, fmt.Sprintf("f%d.txt", i))
		if err := os.WriteFile(name, []byte(strings.Repeat("x", i*100)), 0o644); err != nil {
			fmt.Println("files: write:", err)
		}
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	total := int64(0)
	for _, e := range entries {
		info, _ := e.Info()
		names = append(names, e.Name())
		total += info.Size()
	}
	sort.Strings(names)
	fmt.Println("files:", names, "total bytes", total)
	f, _ := os.Open(filepath.Join(dir, "f3.txt"))
	buf := make([]byte, 1000)
	n, _ := f.Read(buf)
	f.Close()
	fmt.Println("files: read back", n, "bytes")
	_, err = os.Stat(filepath.Join(dir, "missing"))
	fmt.Println("files: missing file is not-exist:", os.IsNotExist(err))
	r, w, _ := os.Pipe()
	go func() { w.Write([]byte("through a pipe")); w.Close() }()
	b := make([]byte, 64)
	n, _ = r.Read(b)
	fmt.Println("files:", string(b[:n]))
}

func signals() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1, syscall.SIGHUP)
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	fmt.Println("signals: got", <-c)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	fmt.Println("signals: got", <-c)
	signal.Ignore(syscall.SIGUSR2)
	syscall.Kill(os.Getpid(), syscall.SIGUSR2)
	time.Sleep(10 * time.Millisecond)
	fmt.Println("signals: SIGUSR2 ignored")
}

// A store through a nil pointer. (A load from the first page does not
// fault under uk-run, whose syscall trampoline is mapped there: see the
// README's known differences.)
func nilderef() {
	defer func() {
		r := recover()
		fmt.Println("nilderef: recovered:", r)
	}()
	var p *node
	p.data[3] = 1
	fmt.Println("not reached")
}

func parallel() {
	runtime.GOMAXPROCS(4)
	fmt.Println("parallel: GOMAXPROCS", runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	results := make([]uint64, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var s uint64
			for j := uint64(0); j < 20_000_000; j++ {
				s += j ^ uint64(i)
			}
			results[i] = s
		}(i)
	}
	wg.Wait()
	fmt.Println("parallel:", results)
}

func crash() {
	var m map[string]int
	m["boom"] = 1
}

func heavy() {
	const n = 100000
	var wg sync.WaitGroup
	ch := make(chan int, 100)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) { defer wg.Done(); ch <- i }(i)
	}
	go func() { wg.Wait(); close(ch) }()
	sum := 0
	for v := range ch {
		sum += v
	}
	fmt.Println("heavy:", n, "goroutines, sum", sum)
}

func main() {
	modes := map[string]func(){
		"hello": hello, "goroutines": goroutines, "timers": timers, "gc": gc, "files": files,
		"signals": signals, "nilderef": nilderef, "parallel": parallel, "crash": crash, "heavy": heavy,
	}
	if len(os.Args) < 2 || modes[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: gotest hello|goroutines|timers|gc|files|signals|nilderef|parallel|crash|heavy")
		os.Exit(2)
	}
	modes[os.Args[1]]()
}
