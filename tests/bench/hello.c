/*
 * The floor the bench measures the service against: a bare libfcgi pool
 * that answers every request with a fixed JSON body, prefork like the
 * service (one listening unix socket, N workers, one request at a time).
 * What the service serves slower than this is its own cost.
 *
 *   hello SOCKET WORKERS     runs until SIGTERM
 */
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void serve(int fd)
{
	static const char answer[] = "Status: 200 OK\r\nContent-Type: application/json\r\n"
	                             "Cache-Control: no-store\r\n\r\n{\"success\":true,\"data\":{}}";
	FCGX_Request r;

	if (FCGX_InitRequest(&r, fd, 0) != 0)
		exit(1);
	while (FCGX_Accept_r(&r) == 0) {
		FCGX_PutStr(answer, sizeof(answer) - 1, r.out);
		FCGX_Finish_r(&r);
	}
	exit(0);
}

int main(int argc, char **argv)
{
	int fd, workers;

	if (argc != 3 || (workers = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: hello SOCKET WORKERS\n");
		return 2;
	}
	unlink(argv[1]);
	if (FCGX_Init() != 0 || (fd = FCGX_OpenSocket(argv[1], 128)) < 0) {
		fprintf(stderr, "hello: cannot listen on %s\n", argv[1]);
		return 1;
	}
	chmod(argv[1], 0666);
	for (int i = 0; i < workers; i++)
		if (fork() == 0)
			serve(fd);
	signal(SIGTERM, SIG_IGN);
	/* The bench stops the whole process group; the master only waits. */
	while (wait(NULL) > 0)
		;
	return 0;
}
