/*
 * rt's namespace bootstrap. It runs as a C constructor, before the Go runtime
 * starts threads, in the `rt init` process that rt re-executes from a sealed
 * copy of itself. Why C: setns(2) into a user or mount namespace fails in a
 * multi-threaded process, and Go is always multi-threaded (runc #1795).
 *
 * Protocol (SOCK_SEQPACKET, one message per packet), on the fd named by
 * _RT_INITSOCK; see libcontainer/sync.go for the whole table:
 *   parent -> child  "bootstrap": lines "clone <flags>", "join <flag> <path>",
 *                    "timens" (linux.timeOffsets: ask for them, below)
 *   child  -> parent "usermap"   (only with a new user namespace): write my maps
 *   parent -> child  "usermap-done"
 *   child  -> parent "timens"    (only with linux.timeOffsets): write my
 *                                /proc/<pid>/timens_offsets
 *   parent -> child  "timens-done"
 *   child  -> parent "idmap <uid_map>\n--\n<gid_map>" after joining a user
 *                                namespace: its maps, which config.json lacks then
 *   child  -> parent "debug <msg>" (only with _RT_DEBUG=1, rt --debug)
 *   child  -> parent "pid <n>"   the host pid of the container init
 *   child  -> parent "error <msg>" on any failure; the child then exits 1.
 *
 * Steps: open every namespace to join (paths are host paths), setns into
 * them (user namespace second, see below); unshare the new ones (user first,
 * so the others belong to it); then fork. The fork child is PID 1 of a new PID
 * namespace and returns into Go's `rt init`; this intermediate process reports
 * the child's pid and exits. rt is a child subreaper while it waits, so the
 * init is re-parented to rt (or to the caller's subreaper, e.g. a shim).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

#define MAX_JOIN 16

static int sock = -1;
static int debug;

static void sendmsg_str(const char *s)
{
	/* Best effort: if the parent is gone there is nobody to tell. */
	if (send(sock, s, strlen(s), MSG_NOSIGNAL) < 0) {
	}
}

static void die(const char *fmt, ...)
{
	char msg[1024] = "error ";
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + 6, sizeof(msg) - 6, fmt, ap);
	va_end(ap);
	if (saved) {
		size_t l = strlen(msg);
		snprintf(msg + l, sizeof(msg) - l, ": %s", strerror(saved));
	}
	sendmsg_str(msg);
	_exit(1);
}

/*
 * A debug line for rt's log (rt --debug). The prefix is runc's ("nsexec"
 * is runc's name for this bootstrap), which tools and runc's own tests
 * match.
 */
static void debugf(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	if (!debug)
		return;
	int n = snprintf(msg, sizeof(msg), "debug nsexec[%d]: ", getpid());
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	sendmsg_str(msg);
}

/* The CPUs this process may run on (the first 64), as runc logs them. */
static void debug_affinity(void)
{
	cpu_set_t cpus;
	uint64_t mask = 0;
	if (!debug)
		return;
	CPU_ZERO(&cpus);
	if (sched_getaffinity(0, sizeof(cpus), &cpus) < 0)
		return;
	for (int i = 0; i < 64; i++)
		if (CPU_ISSET(i, &cpus))
			mask |= (uint64_t)1 << i;
	debugf("affinity: 0x%llx", (unsigned long long)mask);
}

/*
 * ask sends req to the parent and waits for want; anything else is the
 * parent's error. Dumpable meanwhile when asked: the parent then may open
 * this process's /proc files also when it is not root (a non-dumpable
 * process's belong to root). Callers ask that only in a new user namespace
 * of their own: nothing of the container's can reach this process yet.
 */
static void ask(const char *req, const char *want, int dumpable)
{
	char ack[1024];
	if (dumpable && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		die("set dumpable");
	sendmsg_str(req);
	ssize_t r = recv(sock, ack, sizeof(ack) - 1, 0);
	if (r <= 0)
		_exit(1);
	ack[r] = '\0';
	if (dumpable && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		die("set non-dumpable");
	if (strcmp(ack, want) != 0) {
		errno = 0;
		die("%s", strncmp(ack, "error ", 6) == 0 ? ack + 6 : ack);
	}
}

/*
 * send_idmap tells the parent the maps of the user namespace just joined:
 * it gives the exec fifo to the process's user as the host sees it. They
 * are read through the host's procfs (procfd, opened before any join): a
 * mount namespace joined already could show a /proc of the container's.
 */
static void send_idmap(int procfd)
{
	static char msg[65536];
	size_t n = snprintf(msg, sizeof(msg), "idmap ");
	const char *files[] = { "self/uid_map", "self/gid_map" };
	for (int i = 0; i < 2; i++) {
		if (i == 1)
			n += snprintf(msg + n, sizeof(msg) - n, "--\n");
		int fd = openat(procfd, files[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open /proc/%s", files[i]);
		for (;;) {
			if (n >= sizeof(msg) - 1) {
				errno = 0;
				die("/proc/%s: too large", files[i]);
			}
			ssize_t r = read(fd, msg + n, sizeof(msg) - 1 - n);
			if (r < 0)
				die("read /proc/%s", files[i]);
			if (r == 0)
				break;
			n += r;
		}
		close(fd);
	}
	msg[n] = '\0';
	sendmsg_str(msg);
}

struct join {
	int flag;
	int fd;
	char path[512];
};

__attribute__((constructor)) static void rt_nsenter(void)
{
	const char *s = getenv("_RT_INITSOCK");
	static char buf[65536];
	struct join joins[MAX_JOIN];
	int njoin = 0, cloneflags = 0, timens = 0;

	if (s == NULL)
		return;
	/*
	 * Non-dumpable from the first instruction until the final execve: a
	 * process in the container (even root with CAP_SYS_PTRACE in a user
	 * namespace) can then neither ptrace this process nor take its fds with
	 * pidfd_getfd, nor open /proc/<pid>/fd or /proc/<pid>/mem
	 * (CVE-2016-9962). execve restores dumpability for the user program.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		_exit(1);
	sock = atoi(s);
	if (sock < 3)
		_exit(1);
	s = getenv("_RT_DEBUG");
	debug = s != NULL && strcmp(s, "1") == 0;
	debugf("=> nsexec container setup");

	ssize_t n = recv(sock, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		_exit(1); /* parent went away before it told us anything */
	buf[n] = '\0';
	if (strncmp(buf, "bootstrap ", 10) != 0) {
		errno = 0;
		die("protocol error: expected bootstrap");
	}
	/*
	 * After the bootstrap: `rt exec` sets process.execCPUAffinity.initial
	 * on this process before it sends it.
	 */
	debug_affinity();

	for (char *line = strtok(buf + 10, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "clone ", 6) == 0) {
			cloneflags = (int)strtol(line + 6, NULL, 10);
		} else if (strncmp(line, "join ", 5) == 0) {
			if (njoin == MAX_JOIN)
				die("too many namespaces to join");
			char *p;
			joins[njoin].flag = (int)strtol(line + 5, &p, 10);
			if (*p != ' ')
				die("bad bootstrap line %s", line);
			snprintf(joins[njoin].path, sizeof(joins[njoin].path), "%s", p + 1);
			njoin++;
		} else if (strcmp(line, "timens") == 0) {
			timens = 1;
		} else {
			errno = 0;
			die("bad bootstrap line %s", line);
		}
	}

	/* Open all first: once we join a mount namespace host paths are gone. */
	int procfd = -1;
	if (njoin > 0) {
		procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (procfd < 0)
			die("open /proc");
	}
	for (int i = 0; i < njoin; i++) {
		joins[i].fd = open(joins[i].path, O_RDONLY | O_CLOEXEC);
		if (joins[i].fd < 0)
			die("open namespace %s", joins[i].path);
	}
	/*
	 * Three passes, as runc and nsenter(1): the namespaces we may join with
	 * the host's credentials (one owned by another user namespace than the
	 * container's, say a netns made outside), then the user namespace,
	 * then the rest, which only its capabilities let us join (rootless).
	 * A refusal (EPERM) is tried again in the next pass; what is left after
	 * the last one is an error.
	 */
	for (int pass = 0; pass < 3; pass++) {
		for (int i = 0; i < njoin; i++) {
			if (joins[i].fd < 0 || (joins[i].flag == CLONE_NEWUSER) != (pass == 1))
				continue;
			if (setns(joins[i].fd, joins[i].flag) < 0) {
				if (errno == EPERM && pass == 0)
					continue;
				die("join namespace %s", joins[i].path);
			}
			close(joins[i].fd);
			joins[i].fd = -1;
			/*
			 * Be root of the joined user namespace, as after creating
			 * one: files we make (the rootfs's mount points) must get
			 * an owner the namespace maps, or the kernel refuses them
			 * (EOVERFLOW). EINVAL: 0 is not mapped there.
			 */
			if (joins[i].flag == CLONE_NEWUSER) {
				if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
					die("setresgid(0) in user namespace %s", joins[i].path);
				if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
					die("setresuid(0) in user namespace %s", joins[i].path);
				send_idmap(procfd);
			}
		}
	}
	if (procfd >= 0)
		close(procfd);

	if (cloneflags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			die("unshare user namespace");
		/*
		 * Only the parent, root outside, can write arbitrary id maps. A
		 * non-dumpable process's /proc files belong to root: a rootless
		 * parent could not write them, so be dumpable just for this
		 * exchange (runc does the same). Nothing in the container can
		 * reach us yet: we are in no namespace of the container's but
		 * this new, empty user namespace.
		 */
		ask("usermap", "usermap-done", 1);
		/* Become root of the new namespace where 0 is mapped. */
		if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
			die("setresgid(0) in user namespace");
		if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
			die("setresuid(0) in user namespace");
	}
	if (unshare(cloneflags & ~CLONE_NEWUSER) < 0)
		die("unshare namespaces (flags %#x)", cloneflags & ~CLONE_NEWUSER);
	/*
	 * The offsets of the new time namespace, before any process is in it
	 * (the fork below). The parent writes them: in a new user namespace
	 * this process cannot open its own /proc/self/timens_offsets (it
	 * belongs to the host's root while we are not dumpable, and root here
	 * is not root there), as runc's stage-0 does.
	 */
	if (timens)
		ask("timens", "timens-done", cloneflags & CLONE_NEWUSER);

	pid_t pid = fork();
	if (pid < 0)
		die("fork container init");
	if (pid == 0) {
		/* The init: PID 1 if the pid namespace is new. Die with the parent
		 * until rt has it in hand; Go's init resets this. */
		return;
	}
	char msg[64];
	snprintf(msg, sizeof(msg), "pid %d", pid);
	sendmsg_str(msg);
	_exit(0);
}
