/* System V IPC and POSIX named semaphores under uk-run.
 *
 *   sysvipc msg   message queues: types, MSG_EXCEPT, negative types, E2BIG, MSG_NOERROR,
 *                 IPC_NOWAIT, a receiver thread woken by a sender, IPC_STAT, IPC_RMID
 *   sysvipc sem   semaphore sets: SETALL/GETALL, semop all-or-nothing, IPC_NOWAIT,
 *                 semtimedop timing out, a thread woken by another's semop
 *   sysvipc shm   shared memory: two attaches see one memory, SHM_RDONLY, IPC_STAT
 *                 nattch, IPC_RMID with attaches left
 *   sysvipc named sem_open/sem_post/sem_wait across threads, sem_unlink
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

struct msg {
    long type;
    char text[64];
};

static int qid;
static void *msg_sender(void *arg)
{
    (void)arg;
    usleep(20000);
    struct msg m = { 7, "from the thread" };
    msgsnd(qid, &m, sizeof m.text, 0);
    return NULL;
}

static const char *err(int r)
{
    return r == -1 ? strerror(errno) : "ok";
}

static void *msg_remover(void *arg)
{
    (void)arg;
    usleep(20000);
    msgctl(qid, IPC_RMID, NULL);
    return NULL;
}

static int mode_msg(void)
{
    qid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    printf("msg: msgget: %d\n", qid >= 0);
    struct msg m;
    for (long t = 1; t <= 4; t++) {
        m.type = t;
        snprintf(m.text, sizeof m.text, "message %ld", t);
        msgsnd(qid, &m, strlen(m.text) + 1, 0);
    }
    struct msqid_ds ds;
    msgctl(qid, IPC_STAT, &ds);
    printf("msg: %lu messages queued\n", (unsigned long)ds.msg_qnum);
    ssize_t n = msgrcv(qid, &m, sizeof m.text, 3, 0);
    printf("msg: type 3: %zd bytes, \"%s\"\n", n, m.text);
    n = msgrcv(qid, &m, sizeof m.text, 1, MSG_EXCEPT);
    printf("msg: not type 1: type %ld \"%s\"\n", m.type, m.text);
    n = msgrcv(qid, &m, sizeof m.text, -4, 0);
    printf("msg: lowest type up to 4: type %ld\n", m.type);
    n = msgrcv(qid, &m, 3, 0, 0);
    printf("msg: too small a buffer: %s\n", err((int)n));
    n = msgrcv(qid, &m, 3, 0, MSG_NOERROR);
    printf("msg: MSG_NOERROR truncates to %zd bytes\n", n);
    n = msgrcv(qid, &m, sizeof m.text, 0, IPC_NOWAIT);
    printf("msg: empty queue with IPC_NOWAIT: %s\n", err((int)n));
    pthread_t t;
    pthread_create(&t, NULL, msg_sender, NULL);
    n = msgrcv(qid, &m, sizeof m.text, 7, 0);
    pthread_join(t, NULL);
    printf("msg: a blocked receiver got \"%s\"\n", m.text);
    m.type = 0;
    printf("msg: type 0 refused: %s\n", err(msgsnd(qid, &m, 1, 0)));
    printf("msg: IPC_RMID: %s; then: %s\n", err(msgctl(qid, IPC_RMID, NULL)), err(msgsnd(qid, &m, 1, 0)));
    qid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    pthread_create(&t, NULL, msg_remover, NULL);
    n = msgrcv(qid, &m, sizeof m.text, 0, 0);
    pthread_join(t, NULL);
    printf("msg: a receiver waiting when its queue is removed: %s\n", n == -1 && errno == EIDRM ? "EIDRM" : "?");
    struct msginfo mi;
    memset(&mi, 0, sizeof mi);
    int ir = msgctl(0, IPC_INFO, (struct msqid_ds *)&mi);
    printf("msg: IPC_INFO: %d, msgmax %d msgmnb %d\n", ir >= 0, mi.msgmax, mi.msgmnb);
    int k = msgget(0x5eed, IPC_CREAT | IPC_EXCL | 0600);
    printf("msg: keyed queue found again: %d; IPC_EXCL: %s\n", msgget(0x5eed, 0) == k,
           err(msgget(0x5eed, IPC_CREAT | IPC_EXCL | 0600)));
    msgctl(k, IPC_RMID, NULL);
    printf("msg: missing key: %s\n", err(msgget(0x5eed, 0)));
    return 0;
}

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static int sid;
static void *sem_poster(void *arg)
{
    (void)arg;
    usleep(20000);
    struct sembuf up = { 1, 2, 0 };
    semop(sid, &up, 1);
    return NULL;
}

static int mode_sem(void)
{
    sid = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    unsigned short init[3] = { 1, 0, 5 }, got[3];
    union semun a = { .array = init };
    semctl(sid, 0, SETALL, a);
    a.array = got;
    semctl(sid, 0, GETALL, a);
    printf("sem: values %d %d %d\n", got[0], got[1], got[2]);
    struct sembuf two[2] = { { 0, -1, 0 }, { 2, -3, 0 } };
    printf("sem: two operations at once: %s\n", err(semop(sid, two, 2)));
    printf("sem: now %d and %d\n", semctl(sid, 0, GETVAL), semctl(sid, 2, GETVAL));
    struct sembuf none[2] = { { 2, -1, 0 }, { 0, -1, IPC_NOWAIT } };
    printf("sem: all or nothing, IPC_NOWAIT: %s; value 2 still %d\n", err(semop(sid, none, 2)), semctl(sid, 2, GETVAL));
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    struct sembuf wait1 = { 1, -1, 0 };
    printf("sem: semtimedop timing out: %s\n", err(semtimedop(sid, &wait1, 1, &ts)));
    pthread_t t;
    pthread_create(&t, NULL, sem_poster, NULL);
    struct sembuf wait2 = { 1, -2, 0 };
    int r = semop(sid, &wait2, 1);
    pthread_join(t, NULL);
    printf("sem: woken by another thread's semop: %s, value %d\n", err(r), semctl(sid, 1, GETVAL));
    struct sembuf zero = { 1, 0, 0 };
    printf("sem: wait for zero on a zero value: %s\n", err(semop(sid, &zero, 1)));
    a.val = 40000;
    printf("sem: SETVAL past SEMVMX: %s\n", err(semctl(sid, 0, SETVAL, a)));
    struct semid_ds ds;
    a.buf = &ds;
    semctl(sid, 0, IPC_STAT, a);
    printf("sem: IPC_STAT nsems %lu mode %o\n", (unsigned long)ds.sem_nsems, ds.sem_perm.mode & 0777);
    printf("sem: IPC_RMID: %s; then: %s\n", err(semctl(sid, 0, IPC_RMID)), err(semctl(sid, 0, GETVAL)));
    return 0;
}

static sigjmp_buf jb;
static void on_segv(int s)
{
    (void)s;
    siglongjmp(jb, 1);
}

static int mode_shm(void)
{
    int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
    char *a = shmat(id, NULL, 0);
    char *b = shmat(id, NULL, 0);
    printf("shm: two attaches at different addresses: %d\n", a != b && a != (void *)-1 && b != (void *)-1);
    printf("shm: starts zeroed: %d\n", a[0] == 0 && a[9999] == 0);
    strcpy(a, "written through the first");
    printf("shm: the second sees \"%s\"\n", b);
    b[5000] = 'x';
    printf("shm: and the first sees the second's write: %c\n", a[5000]);
    struct shmid_ds ds;
    shmctl(id, IPC_STAT, &ds);
    printf("shm: size %zu, attaches %lu\n", ds.shm_segsz, (unsigned long)ds.shm_nattch);
    char *ro = shmat(id, NULL, SHM_RDONLY);
    printf("shm: read-only attach reads \"%.7s\"\n", ro);
    signal(SIGSEGV, on_segv);
    if (!sigsetjmp(jb, 1)) {
        ro[0] = 'W';
        printf("shm: read-only attach was written\n");
    } else {
        printf("shm: writing the read-only attach faults\n");
    }
    shmdt(ro);
    printf("shm: IPC_RMID with attaches: %s\n", err(shmctl(id, IPC_RMID, NULL)));
    printf("shm: still usable: %c\n", a[5000]);
    shmdt(a);
    printf("shm: detach a second time: %s\n", err(shmdt(a)));
    shmdt(b);
    printf("shm: gone after the last detach: %s\n", err(shmctl(id, IPC_STAT, &ds)));
    int id2 = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
    void *a2 = shmat(id2, NULL, 0);
    munmap(a2, 8192);
    shmctl(id2, IPC_STAT, &ds);
    printf("shm: munmap of an attach detaches it: attaches %lu\n", (unsigned long)ds.shm_nattch);
    shmctl(id2, IPC_RMID, NULL);
    return 0;
}

static sem_t *named;
static void *named_poster(void *arg)
{
    (void)arg;
    usleep(10000);
    sem_post(named);
    return NULL;
}

static int mode_named(void)
{
    sem_unlink("/uk-test-sem");
    named = sem_open("/uk-test-sem", O_CREAT | O_EXCL, 0600, 0);
    printf("named: sem_open: %d\n", named != SEM_FAILED);
    pthread_t t;
    pthread_create(&t, NULL, named_poster, NULL);
    printf("named: sem_wait woken by another thread: %d\n", sem_wait(named));
    pthread_join(t, NULL);
    int v = -1;
    sem_getvalue(named, &v);
    printf("named: value %d; trywait: %s\n", v, sem_trywait(named) == -1 && errno == EAGAIN ? "EAGAIN" : "?");
    sem_close(named);
    printf("named: sem_unlink: %d; reopen without O_CREAT: %s\n", sem_unlink("/uk-test-sem"),
           sem_open("/uk-test-sem", 0) == SEM_FAILED && errno == ENOENT ? "ENOENT" : "?");
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "msg"))
        return mode_msg();
    if (!strcmp(mode, "sem"))
        return mode_sem();
    if (!strcmp(mode, "shm"))
        return mode_shm();
    if (!strcmp(mode, "named"))
        return mode_named();
    fprintf(stderr, "usage: %s msg|sem|shm|named\n", argv[0]);
    return 2;
}
