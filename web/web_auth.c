/*
 * Who may change the rig from a browser: the users of web.yaml, each with
 * a crypt(3) hash (yescrypt); a login makes a session (a random token in
 * an HttpOnly, SameSite=Strict cookie) with its own CSRF token, which
 * every changing request must repeat in a header. Login attempts are
 * counted per address (WEB_LOGIN_PER_MIN), and hashed one at a time, so
 * neither guessing nor a flood of logins costs more than a core's share.
 */
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "web.h"

#define WEB_TOKEN_BYTES		32	/* random bytes in a token: 256 bits */

struct web_session {
	char token[2 * WEB_TOKEN_BYTES + 1];	/* empty: free */
	char csrf[2 * WEB_TOKEN_BYTES + 1];
	char name[WEB_MAX_USER_BYTES + 1];
	int64_t used_s;
};

/* An address's last attempts: a sliding minute, so no boundary lets a burst through. */
struct web_attempts {
	char addr[64];
	int64_t at_s[WEB_LOGIN_PER_MIN];	/* a ring of attempt times (0: none) */
	int next;
	int64_t last_s;
};

static const struct web_conf *web_auth_conf;
static struct web_session web_sessions[WEB_MAX_SESSIONS];
static struct web_attempts web_attempts[WEB_LOGIN_ADDRS];
static pthread_mutex_t web_auth_lock = PTHREAD_MUTEX_INITIALIZER;
/* one hash at a time: yescrypt takes tens of MB and a core for a while */
static pthread_mutex_t web_hash_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t
web_auth_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

void
web_auth_init(const struct web_conf *conf)
{
	web_auth_conf = conf;
	memset(web_sessions, 0, sizeof(web_sessions));
	memset(web_attempts, 0, sizeof(web_attempts));
}

int
web_auth_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char diff = la != lb;

	for (i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* A fresh random token as hex: 0, or -1 when the kernel gives no randomness. */
static int
web_auth_token(char *out)
{
	unsigned char raw[WEB_TOKEN_BYTES];
	size_t got = 0;
	int i;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	for (i = 0; i < WEB_TOKEN_BYTES; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* Counts an attempt from addr: 0 if allowed, or the seconds until it is. Under the lock. */
static int
web_auth_count(const char *addr)
{
	int64_t now = web_auth_now_s();
	struct web_attempts *a;
	int i, oldest = 0;

	for (i = 0; i < WEB_LOGIN_ADDRS; i++) {
		if (strcmp(web_attempts[i].addr, addr) == 0)
			break;
		if (web_attempts[i].last_s < web_attempts[oldest].last_s)
			oldest = i;
	}
	if (i == WEB_LOGIN_ADDRS) {
		/* the address least recently counted is forgotten */
		i = oldest;
		memset(&web_attempts[i], 0, sizeof(web_attempts[i]));
		snprintf(web_attempts[i].addr, sizeof(web_attempts[i].addr), "%s", addr);
	}
	a = &web_attempts[i];
	a->last_s = now;
	/* the ring's next slot holds the oldest of the last WEB_LOGIN_PER_MIN attempts */
	if (a->at_s[a->next] != 0 && now - a->at_s[a->next] < 60)
		return (int)(60 - (now - a->at_s[a->next]));
	a->at_s[a->next] = now;
	a->next = (a->next + 1) % WEB_LOGIN_PER_MIN;
	return 0;
}

static const struct web_user *
web_auth_user(const char *name)
{
	int i;

	for (i = 0; i < web_auth_conf->user_count; i++)
		if (strcmp(web_auth_conf->users[i].name, name) == 0)
			return &web_auth_conf->users[i];
	return NULL;
}

/* Whether password matches hash (crypt_r, one at a time). */
static int
web_auth_check(const char *hash, const char *password)
{
	struct crypt_data *data;
	const char *got;
	int ok;

	if ((data = calloc(1, sizeof(*data))) == NULL)
		return 0;
	pthread_mutex_lock(&web_hash_lock);
	got = crypt_r(password, hash, data);
	ok = got != NULL && got[0] != '*' && web_auth_equal(got, hash);
	pthread_mutex_unlock(&web_hash_lock);
	explicit_bzero(data, sizeof(*data));
	free(data);
	return ok;
}

int
web_auth_login(const char *addr, const char *user, const char *password, char *token,
    char *csrf, char *name, size_t name_size, int *retry_s)
{
	const struct web_user *u;
	int64_t now, oldest_s;
	int i, slot, ok;
	/*
	 * A name not in web.yaml is hashed too, against the first user's hash
	 * (its method and cost, whatever they are), so it takes as long as a
	 * known name's wrong password: against a fixed yescrypt hash, a user
	 * with a costlier hash told which names exist. The fixed one serves
	 * only when there are no users.
	 */
	static const char *const dummy = "$y$j9T$at/h7PpGhHfTCVVwLKK.3/$"
	    "XT92hZenbu.DzTb9K2ZCGxalgalsza/KbTshfIezKJ5";
	const char *against;

	pthread_mutex_lock(&web_auth_lock);
	*retry_s = web_auth_count(addr);
	pthread_mutex_unlock(&web_auth_lock);
	if (*retry_s > 0)
		return 2;
	u = web_auth_user(user);
	against = u ? u->hash : web_auth_conf->user_count > 0 ? web_auth_conf->users[0].hash : dummy;
	ok = web_auth_check(against, password) && u != NULL;
	if (!ok)
		return 1;
	pthread_mutex_lock(&web_auth_lock);
	now = web_auth_now_s();
	/* a free slot, or an expired one, or else the one least recently used */
	slot = 0;
	oldest_s = INT64_MAX;
	for (i = 0; i < WEB_MAX_SESSIONS; i++) {
		if (web_sessions[i].token[0] == '\0' ||
		    now - web_sessions[i].used_s > WEB_SESSION_IDLE_S) {
			slot = i;
			break;
		}
		if (web_sessions[i].used_s < oldest_s) {
			oldest_s = web_sessions[i].used_s;
			slot = i;
		}
	}
	if (web_auth_token(web_sessions[slot].token) == -1 ||
	    web_auth_token(web_sessions[slot].csrf) == -1) {
		memset(&web_sessions[slot], 0, sizeof(web_sessions[slot]));
		pthread_mutex_unlock(&web_auth_lock);
		return -1;
	}
	snprintf(web_sessions[slot].name, sizeof(web_sessions[slot].name), "%s", u->name);
	web_sessions[slot].used_s = now;
	snprintf(token, 2 * WEB_TOKEN_BYTES + 1, "%s", web_sessions[slot].token);
	snprintf(csrf, 2 * WEB_TOKEN_BYTES + 1, "%s", web_sessions[slot].csrf);
	snprintf(name, name_size, "%s", u->name);
	pthread_mutex_unlock(&web_auth_lock);
	return 0;
}

int
web_auth_session(const char *token, char *name, size_t name_size, char *csrf)
{
	int64_t now = web_auth_now_s();
	int i, rc = -1;

	if (token == NULL || strlen(token) != 2 * WEB_TOKEN_BYTES)
		return -1;
	pthread_mutex_lock(&web_auth_lock);
	for (i = 0; i < WEB_MAX_SESSIONS; i++) {
		if (web_sessions[i].token[0] == '\0' ||
		    !web_auth_equal(web_sessions[i].token, token))
			continue;
		if (now - web_sessions[i].used_s > WEB_SESSION_IDLE_S) {
			memset(&web_sessions[i], 0, sizeof(web_sessions[i]));
			break;
		}
		web_sessions[i].used_s = now;
		snprintf(name, name_size, "%s", web_sessions[i].name);
		snprintf(csrf, 2 * WEB_TOKEN_BYTES + 1, "%s", web_sessions[i].csrf);
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&web_auth_lock);
	return rc;
}

void
web_auth_logout(const char *token)
{
	int i;

	if (token == NULL)
		return;
	pthread_mutex_lock(&web_auth_lock);
	for (i = 0; i < WEB_MAX_SESSIONS; i++)
		if (web_sessions[i].token[0] != '\0' &&
		    web_auth_equal(web_sessions[i].token, token))
			memset(&web_sessions[i], 0, sizeof(web_sessions[i]));
	pthread_mutex_unlock(&web_auth_lock);
}

char *
web_auth_hash(const char *password)
{
	struct crypt_data *data;
	const char *salt, *hash;
	char *copy = NULL;

	if ((data = calloc(1, sizeof(*data))) == NULL)
		return NULL;
	/* NULL prefix: libcrypt's preferred method (yescrypt), its default cost */
	salt = crypt_gensalt_rn("$y$", 0, NULL, 0, data->setting, sizeof(data->setting));
	if (salt != NULL && (hash = crypt_r(password, salt, data)) != NULL && hash[0] != '*')
		copy = strdup(hash);
	else if (errno == 0)
		errno = EINVAL;
	explicit_bzero(data, sizeof(*data));
	free(data);
	return copy;
}
