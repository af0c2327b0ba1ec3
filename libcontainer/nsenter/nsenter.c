/*
 * rt's namespace bootstrap. It runs as a C constructor, before the Go runtime
 * starts threads, in the `rt init` process that rt re-executes from a sealed
 * copy of itself. Why C: setns(2) into a user or mount namespace fails in a
 * multi-threaded process, and Go is always multi-threaded (runc #1795).
 *
 * Protocol (SOCK_SEQPACKET, one message per packet), on the fd named by
 * _RT_INITSOCK; see libcontainer/sync.go for the whole table:
 *   parent -> child  "bootstrap": lines "clone <flags>", "join <flag> <path>",
 *                    "timens <clock> <sec> <nsec>"
 *   child  -> parent "usermap"   (only with a new user namespace): write my maps
 *   parent -> child  "usermap-done"
 *   child  -> parent "pid <n>"   the host pid of the container init
 *   child  -> parent "error <msg>" on any failure; the child then exits 1.
 *
 * Steps: open every namespace to join (paths are host paths), setns into
 * them (the user namespace in the middle: see the join passes); unshare the
 * new ones (user first, so the others belong to it); then fork. The fork
 * child is PID 1 of a new PID namespace and returns into Go's `rt init`; this
 * intermediate process reports the child's pid and exits. rt is a child subreaper while it waits, so the
 * init is re-parented to rt (or to the caller's subreaper, e.g. a shim).
 */
#define _GNU_SOURCE
#include <errno.h>
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

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die("open %s", path);
	if (write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		die("write %s", path);
	close(fd);
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
	int njoin = 0, cloneflags = 0;
	char timens[1024] = "";

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

	ssize_t n = recv(sock, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		_exit(1); /* parent went away before it told us anything */
	buf[n] = '\0';
	if (strncmp(buf, "bootstrap ", 10) != 0) {
		errno = 0;
		die("protocol error: expected bootstrap");
	}

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
		} else if (strncmp(line, "timens ", 7) == 0) {
			size_t l = strlen(timens);
			snprintf(timens + l, sizeof(timens) - l, "%s\n", line + 7);
		} else {
			errno = 0;
			die("bad bootstrap line %s", line);
		}
	}

	/* Open all first: once we join a mount namespace host paths are gone. */
	for (int i = 0; i < njoin; i++) {
		joins[i].fd = open(joins[i].path, O_RDONLY | O_CLOEXEC);
		if (joins[i].fd < 0)
			die("open namespace %s", joins[i].path);
	}
	/*
	 * Three passes, as runc (runc #4390): the other namespaces first, while
	 * we are still the caller (root may join a namespace that the user
	 * namespace to join does not own), skipping those refused (EPERM); then
	 * the user namespace, which grants the rights to join the rest (a
	 * rootless caller); then what the first pass skipped, where a refusal is
	 * fatal.
	 */
	for (int pass = 0; pass < 3; pass++) {
		for (int i = 0; i < njoin; i++) {
			if (joins[i].fd < 0 || (joins[i].flag == CLONE_NEWUSER) != (pass == 1))
				continue;
			if (setns(joins[i].fd, joins[i].flag) < 0) {
				if (pass == 0 && errno == EPERM)
					continue;
				die("join namespace %s", joins[i].path);
			}
			close(joins[i].fd);
			joins[i].fd = -1;
			/*
			 * Become root of the joined user namespace, as after
			 * creating one: our host ids are not mapped there, and
			 * files created with unmapped ids fail (EOVERFLOW).
			 */
			if (joins[i].flag == CLONE_NEWUSER) {
				if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
					die("setresgid(0) in user namespace");
				if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
					die("setresuid(0) in user namespace");
			}
		}
	}

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
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
			die("set dumpable");
		sendmsg_str("usermap");
		char ack[32];
		ssize_t r = recv(sock, ack, sizeof(ack) - 1, 0);
		if (r <= 0)
			_exit(1);
		ack[r] = '\0';
		if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
			die("set non-dumpable");
		if (strcmp(ack, "usermap-done") != 0) {
			errno = 0;
			die("user namespace mapping failed: %s", ack);
		}
		/* Become root of the new namespace where 0 is mapped. */
		if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
			die("setresgid(0) in user namespace");
		if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
			die("setresuid(0) in user namespace");
	}
	if (unshare(cloneflags & ~CLONE_NEWUSER) < 0)
		die("unshare namespaces (flags %#x)", cloneflags & ~CLONE_NEWUSER);
	if (timens[0] != '\0')
		write_file("/proc/self/timens_offsets", timens);

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
