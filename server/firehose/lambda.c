/* Lambda hooks: the registry of NAME=HOOK, LambdaArn resolution, and
 * invocation through an exec or http hook or a builtin (see lambda.h).
 *
 * Whatever the hook, an answer goes through the same checks Lambda's Invoke
 * would apply: at most LAMBDA_RESPONSE_MAX bytes, and a Lambda error object
 * ({"errorType", "errorMessage"}, or the X-Amz-Function-Error header) is a
 * function error. */
#define _GNU_SOURCE /* pipe2, posix_spawn_file_actions_addclosefrom_np, strerrordesc_np */
#include "server/firehose/lambda.h"
#include "protocol/strbuf.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum hook_kind { HOOK_EXEC, HOOK_HTTP, HOOK_BUILTIN };

struct lambda_hook {
    struct lambda_hook *next; /* the registry list, newest first */
    enum hook_kind kind;
    enum lambda_builtin builtin;
    const char *arg;          /* exec: the command; http: the URL (inside text) */
    char *name, *text;
};

/* Hooks are never freed before lambda_global_cleanup, so a pointer from
 * lambda_find stays valid even when a later registration replaces it. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lambda_hook *g_hooks;
static atomic_uint g_timeout_ms = LAMBDA_DEFAULT_TIMEOUT_MS;

/* ------------------------------------------------------------------------ */
/* Registry and resolution                                                  */
/* ------------------------------------------------------------------------ */

int lambda_global_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void lambda_global_cleanup(void)
{
    pthread_mutex_lock(&g_lock);
    while (g_hooks) {
        struct lambda_hook *h = g_hooks;
        g_hooks = h->next;
        free(h->name);
        free(h->text);
        free(h);
    }
    pthread_mutex_unlock(&g_lock);
    curl_global_cleanup();
}

void lambda_set_timeout_ms(unsigned ms) { atomic_store(&g_timeout_ms, ms); }

/* The function name inside a LambdaArn value: *len bytes at the return value. */
static const char *function_name(const char *s, size_t *len)
{
    const char *p = s;

    if (!strncmp(s, "arn:", 4)) {
        /* arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] */
        for (int colons = 0; colons < 6 && p; colons++)
            if ((p = strchr(p, ':')))
                p++;
        if (!p)
            p = s + strlen(s); /* too few parts: names nothing */
    } else if ((p = strstr(s, ":function:"))) {
        p += strlen(":function:"); /* ACCOUNT:function:NAME[:QUALIFIER] */
    } else {
        p = s; /* NAME[:QUALIFIER] */
    }
    *len = strcspn(p, ":");
    return p;
}

const struct lambda_hook *lambda_find(const char *arn_or_name)
{
    size_t len;
    const char *name = function_name(arn_or_name, &len);
    const struct lambda_hook *h;

    pthread_mutex_lock(&g_lock);
    for (h = g_hooks; h; h = h->next)
        if (strlen(h->name) == len && !memcmp(h->name, name, len))
            break;
    pthread_mutex_unlock(&g_lock);
    return h;
}

const char *lambda_hook_name(const struct lambda_hook *h) { return h->name; }
const char *lambda_hook_text(const struct lambda_hook *h) { return h->text; }

int lambda_register_pair(const char *name_or_arn, const char *hook, char *err, size_t errlen)
{
    size_t len;
    const char *name = function_name(name_or_arn, &len);
    struct lambda_hook h = {.text = (char *)hook}, *copy;

    /* Lambda's function names: letters, digits, '-' and '_', 64 at most. */
    if (len == 0 || len > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789-_") < len) {
        snprintf(err, errlen, "lambda \"%s\": a function name is 1 to 64 letters, digits, '-' or '_'",
                 name_or_arn);
        return -1;
    }
    if (!strncmp(hook, "exec:", 5) && hook[5]) {
        h.kind = HOOK_EXEC;
        h.arg = hook + 5;
    } else if ((!strncmp(hook, "http://", 7) && hook[7]) || (!strncmp(hook, "https://", 8) && hook[8])) {
        h.kind = HOOK_HTTP;
        h.arg = hook;
    } else if (!strncmp(hook, "builtin:", 8)) {
        int b = lambda_builtin_find(hook + 8);
        if (b < 0) {
            snprintf(err, errlen, "lambda %.*s: unknown builtin \"%s\" (known: %s)", (int)len, name,
                     hook + 8, LAMBDA_BUILTINS);
            return -1;
        }
        h.kind = HOOK_BUILTIN;
        h.builtin = (enum lambda_builtin)b;
    } else {
        snprintf(err, errlen, "lambda %.*s: unknown hook \"%s\" (expected exec:COMMAND, http://URL, "
                 "https://URL or builtin:NAME)", (int)len, name, hook);
        return -1;
    }
    copy = malloc(sizeof *copy);
    if (!copy)
        abort();
    *copy = h;
    copy->name = strndup(name, len);
    copy->text = strdup(hook);
    if (!copy->name || !copy->text)
        abort();
    if (copy->arg)
        copy->arg = copy->text + (h.arg - hook);
    pthread_mutex_lock(&g_lock);
    copy->next = g_hooks;
    g_hooks = copy;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

int lambda_register(const char *spec, char *err, size_t errlen)
{
    const char *eq = strchr(spec, '=');
    char *name;
    int rc;

    if (!eq) {
        snprintf(err, errlen, "lambda \"%s\": expected NAME=HOOK", spec);
        return -1;
    }
    name = strndup(spec, (size_t)(eq - spec));
    if (!name)
        abort();
    rc = lambda_register_pair(name, eq + 1, err, errlen);
    free(name);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* exec: hooks                                                              */
/* ------------------------------------------------------------------------ */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every process an exec invocation starts carries TAG_VAR=<pid>-<n> in its
 * environment. A process group alone does not hold them: a hook's `setsid`
 * (or a daemonising double fork) leaves it, and would outlive a timeout. */
#define TAG_VAR "TIDEPOOL_LAMBDA_INVOCATION"
static atomic_uint g_invocations;

/* Starts /bin/sh -c cmd in its own process group, with tag added to the
 * environment, and the signal state of a fresh process: tidepool blocks
 * SIGTERM and ignores SIGPIPE, which a child must not inherit. Only the two
 * pipe ends and stderr reach it; every other descriptor is closed. */
static int spawn_shell(const char *cmd, const char *tag, int in_fd, int out_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    size_t n = 0;
    int rc;

    while (environ[n])
        n++;
    char **env = malloc((n + 2) * sizeof *env);
    if (!env)
        return ENOMEM;
    n = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, TAG_VAR "=", sizeof TAG_VAR)) /* tidepool run by a hook: its own tag only */
            env[n++] = *e;
    env[n++] = (char *)tag;
    env[n] = NULL;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
    posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    rc = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(env);
    return rc;
}

/* Whether /proc/PID/environ holds the entry tag (NUL-terminated entries). */
static int has_tag(const char *pid, const char *tag)
{
    char path[64], buf[16384];
    size_t tlen = strlen(tag) + 1, have = 0;
    ssize_t r;
    int fd, found = 0;

    snprintf(path, sizeof path, "/proc/%s/environ", pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    /* entry by entry; what does not fit in buf is a longer entry, never the tag */
    while (!found && (r = read(fd, buf + have, sizeof buf - have)) > 0) {
        char *p = buf, *end = buf + have + r, *nul;
        while (!found && (nul = memchr(p, 0, (size_t)(end - p)))) {
            found = (size_t)(nul - p) + 1 == tlen && !memcmp(p, tag, tlen);
            p = nul + 1;
        }
        have = (size_t)(end - p);
        if (have == sizeof buf)
            have = 0;
        memmove(buf, p, have);
    }
    close(fd);
    return found;
}

/* SIGKILLs every process whose environment carries tag, until none is left
 * (one may fork while the scan runs). A zombie's environment reads empty. */
static void kill_tagged(const char *tag)
{
    char self[16];

    snprintf(self, sizeof self, "%d", (int)getpid());
    for (int round = 0; round < 100; round++) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        int killed = 0;

        if (!d)
            return;
        while ((e = readdir(d)))
            if (isdigit((unsigned char)e->d_name[0]) && strcmp(e->d_name, self) && has_tag(e->d_name, tag) &&
                kill((pid_t)atoi(e->d_name), SIGKILL) == 0)
                killed++;
        closedir(d);
        if (!killed)
            return;
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL); /* let the killed ones exit */
    }
}

enum pump_end { PUMP_EOF, PUMP_TIMEOUT, PUMP_TOO_BIG, PUMP_ERROR };

/* Writes the event to the child's stdin while reading its stdout, so neither
 * side blocks on a full pipe, until stdout ends. A child that stops reading
 * its stdin just gets it closed (*in_fd becomes -1): its exit status tells
 * whether that was a failure. On PUMP_ERROR, *err is the errno. */
static enum pump_end pump(int *in_fd, int out_fd, const char *event, size_t len, long long deadline,
                          struct strbuf *out, int *err)
{
    size_t off = 0;

    for (;;) {
        struct pollfd p[2] = {{.fd = *in_fd, .events = POLLOUT}, {.fd = out_fd, .events = POLLIN}};
        long long left = deadline - now_ms();
        ssize_t r;

        if (*in_fd >= 0 && off == len) {
            close(*in_fd);
            *in_fd = p[0].fd = -1;
        }
        if (left <= 0)
            return PUMP_TIMEOUT;
        if (poll(p, 2, (int)(left < 1000 ? left : 1000)) < 0) { /* capped: an int, and the deadline is rechecked */
            if (errno == EINTR)
                continue;
            *err = errno;
            return PUMP_ERROR;
        }
        if (*in_fd >= 0 && p[0].revents) {
            r = write(*in_fd, event + off, len - off < 65536 ? len - off : 65536);
            if (r > 0) {
                off += (size_t)r;
            } else if (errno != EAGAIN && errno != EINTR) {
                close(*in_fd); /* EPIPE: the child closed its stdin */
                *in_fd = -1;
            }
        }
        if (p[1].revents) {
            r = read(out_fd, strbuf_reserve(out, 65536), 65536);
            if (r > 0) {
                out->len += (size_t)r;
                out->buf[out->len] = 0;
                if (out->len > LAMBDA_RESPONSE_MAX)
                    return PUMP_TOO_BIG;
            } else if (r == 0) {
                return PUMP_EOF;
            } else if (errno != EAGAIN && errno != EINTR) {
                *err = errno;
                return PUMP_ERROR;
            }
        }
    }
}

/* Reaps pid by the deadline: 0 with *status, or -1 if it is still running. */
static int reap_by(pid_t pid, long long deadline, int *status)
{
    for (long long nap = 1;; nap = nap < 20 ? nap * 2 : 20) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid)
            return 0;
        if (w < 0 && errno != EINTR)
            return -1;
        if (now_ms() >= deadline)
            return -1;
        nanosleep(&(struct timespec){.tv_nsec = nap * 1000000}, NULL);
    }
}

static int exec_invoke(const struct lambda_hook *h, const char *event, size_t len, struct strbuf *out,
                       struct lambda_failure *f)
{
    unsigned timeout = atomic_load(&g_timeout_ms);
    long long deadline = now_ms() + timeout;
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, status = 0, rc = 0, err;
    enum pump_end end;
    pid_t pid;
    char tag[64];

    snprintf(tag, sizeof tag, TAG_VAR "=%d-%u", (int)getpid(), atomic_fetch_add(&g_invocations, 1));

    /* O_CLOEXEC: a hook spawned by another thread must not inherit these. */
    if (pipe2(in, O_CLOEXEC) || pipe2(outp, O_CLOEXEC)) {
        rc = lambda_fail(f, LAMBDA_E_FUNCTION_ERROR, "%s: pipe: %s", h->text, strerrordesc_np(errno));
        goto out;
    }
    if ((err = spawn_shell(h->arg, tag, in[0], outp[1], &pid)) != 0) {
        rc = lambda_fail(f, LAMBDA_E_FUNCTION_ERROR, "%s: cannot start /bin/sh: %s", h->text,
                         strerrordesc_np(err));
        goto out;
    }
    close(in[0]);
    close(outp[1]);
    in[0] = outp[1] = -1;
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(outp[0], F_SETFL, O_NONBLOCK);
    end = pump(&in[1], outp[0], event, len, deadline, out, &err);
    if (in[1] >= 0) { /* stdout ended first: the child gets EOF on stdin too */
        close(in[1]);
        in[1] = -1;
    }
    if (end != PUMP_EOF || reap_by(pid, deadline, &status) != 0) {
        kill(-pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (end == PUMP_TOO_BIG)
            rc = lambda_fail(f, LAMBDA_E_FUNCTION_ERROR, "%s: response over %d bytes", h->text,
                             LAMBDA_RESPONSE_MAX);
        else if (end == PUMP_ERROR)
            rc = lambda_fail(f, LAMBDA_E_FUNCTION_ERROR, "%s: reading its output: %s", h->text,
                             strerrordesc_np(err));
        else
            rc = lambda_fail(f, LAMBDA_E_FUNCTION_ERROR, "%s: timed out after %u ms", h->text, timeout);
    } else if (WIFSIGNALED(status)) {
        rc = lambda_fail(f, LAMBDA_E_FUNCTION_ERROR, "%s: killed by signal %d", h->text, WTERMSIG(status));
    } else if (WEXITSTATUS(status) != 0) {
        rc = lambda_fail(f, LAMBDA_E_FUNCTION_ERROR, "%s: exit status %d", h->text, WEXITSTATUS(status));
    }
    /* Nothing an invocation started outlives it, as in Lambda, where the
     * environment is frozen between invocations and torn down on a timeout. */
    kill_tagged(tag);
out:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (outp[i] >= 0)
            close(outp[i]);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* http:// and https:// hooks                                               */
/* ------------------------------------------------------------------------ */

struct http_answer {
    struct strbuf body;
    char function_error[64]; /* X-Amz-Function-Error, when present */
    int too_big;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct http_answer *a = ud;

    if (a->body.len + size * n > LAMBDA_RESPONSE_MAX) {
        a->too_big = 1;
        return 0; /* aborts the transfer */
    }
    strbuf_put(&a->body, p, size * n);
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    static const char NAME[] = "X-Amz-Function-Error:";
    struct http_answer *a = ud;

    if (n > sizeof NAME - 1 && !strncasecmp(p, NAME, sizeof NAME - 1)) {
        const char *v = p + sizeof NAME - 1;
        size_t vlen = n - (sizeof NAME - 1);
        while (vlen && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
            vlen--;
        snprintf(a->function_error, sizeof a->function_error, "%.*s", (int)vlen, v);
        if (!a->function_error[0])
            strcpy(a->function_error, "Unhandled");
    }
    return size * n;
}

static int http_invoke(const struct lambda_hook *h, const char *event, size_t len, struct strbuf *out,
                       struct lambda_failure *f)
{
    unsigned timeout = atomic_load(&g_timeout_ms);
    struct http_answer a = {0};
    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *c = curl_easy_init();
    CURLcode cc;
    long status = 0;
    int rc = 0;

    if (!c)
        return lambda_fail(f, LAMBDA_E_FUNCTION_ERROR, "%s: curl_easy_init failed", h->text);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip for big events */
    curl_easy_setopt(c, CURLOPT_URL, h->arg);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, event);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "tidepool/" TIDEPOOL_VERSION);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* timeouts without SIGALRM: we are one of many threads */
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (a.too_big) {
        rc = lambda_fail(f, LAMBDA_E_FUNCTION_ERROR, "%s: response over %d bytes", h->text, LAMBDA_RESPONSE_MAX);
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = lambda_fail(f, LAMBDA_E_FUNCTION_ERROR, "%s: timed out after %u ms", h->text, timeout);
    } else if (cc != CURLE_OK) {
        rc = lambda_fail(f, LAMBDA_E_FUNCTION_ERROR, "%s: %s", h->text, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else if (status < 200 || status > 299) {
        /* What Lambda's Invoke answers with these statuses, in Firehose's terms. */
        enum lambda_error e = status == 429 ? LAMBDA_E_INVOKE_LIMIT
                            : status == 403 ? LAMBDA_E_ACCESS_DENIED
                            : status == 404 ? LAMBDA_E_NOT_FOUND : LAMBDA_E_FUNCTION_ERROR;
        rc = lambda_fail(f, e, "%s: HTTP %ld: %.200s", h->text, status, a.body.buf ? a.body.buf : "");
    } else if (a.function_error[0]) {
        rc = lambda_fail(f, LAMBDA_E_FUNCTION_ERROR, "%s: X-Amz-Function-Error %s: %.200s", h->text,
                         a.function_error, a.body.buf ? a.body.buf : "");
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    *out = a.body;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                 */
/* ------------------------------------------------------------------------ */

/* Lambda's own view of an answer: a JSON object that is not an error object. */
static int check_answer(const struct lambda_hook *h, const char *resp, size_t len, struct lambda_failure *f)
{
    cJSON *doc = cJSON_ParseWithLengthOpts(resp, len + 1, NULL, 1); /* +1: nothing after the value */
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "errorType"));
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "errorMessage"));
    int rc = 0;

    if (len > LAMBDA_RESPONSE_MAX)
        rc = lambda_fail(f, LAMBDA_E_FUNCTION_ERROR, "%s: response of %zu bytes, over %d", h->text, len,
                         LAMBDA_RESPONSE_MAX);
    else if (!strncmp(resp, "Task timed out after ", 21)) /* the Runtime Interface Emulator's timeout */
        rc = lambda_fail(f, LAMBDA_E_FUNCTION_ERROR, "%s: %.100s", h->text, resp);
    else if (!cJSON_IsObject(doc))
        rc = lambda_fail(f, LAMBDA_E_JSON, "%s: the response is not a JSON object: %.100s", h->text, resp);
    else if ((type || msg) && !cJSON_HasObjectItem(doc, "records"))
        rc = lambda_fail(f, LAMBDA_E_FUNCTION_ERROR, "%s: %s: %.300s", h->text, type ? type : "Error",
                         msg ? msg : "");
    cJSON_Delete(doc);
    return rc;
}

int lambda_invoke(const struct lambda_hook *h, const char *event, size_t len, char **resp, size_t *resp_len,
                  struct lambda_failure *fail)
{
    struct strbuf out = {0};
    int rc = 0;

    *resp = NULL;
    *resp_len = 0;
    if (!h)
        return lambda_fail(fail, LAMBDA_E_NOT_FOUND, "no lambda hook is registered for the function");
    if (h->kind == HOOK_EXEC) {
        rc = exec_invoke(h, event, len, &out, fail);
    } else if (h->kind == HOOK_HTTP) {
        rc = http_invoke(h, event, len, &out, fail);
    } else {
        out.buf = lambda_builtin_run(h->builtin, event, len, &out.len);
        out.cap = out.len + 1;
    }
    strbuf_reserve(&out, 0)[0] = 0; /* a NUL-terminated buffer even when nothing came */
    if (rc == 0)
        rc = check_answer(h, out.buf, out.len, fail);
    if (rc == 0)
        *resp = strbuf_take(&out, resp_len);
    strbuf_free(&out);
    return rc;
}
