/*
 * web.yaml: where lbl-web listens, where lbld's socket is, which addresses
 * may read, who may change, and TLS. Read with the project's YAML layer,
 * so every mistake is named FILE:LINE:COL and nothing starts half-configured.
 */
#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "paths.h"
#include "web.h"

#define WEB_DEFAULT_LISTEN	"[::]:8080"

/* Loopback and the private ranges: a lab's own network (RFC 1918, RFC 4193, link-local). */
static const char *const web_default_trusted[] = {
	"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
	"169.254.0.0/16", "fc00::/7", "fe80::/10", NULL
};

int
web_cidr_parse(const char *text, struct web_cidr *out)
{
	char host[INET6_ADDRSTRLEN + 1], *end;
	const char *slash = strchr(text, '/');
	size_t len = slash ? (size_t)(slash - text) : strlen(text);
	long prefix;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len >= sizeof(host))
		return -1;
	memcpy(host, text, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		out->prefix = 32;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		out->prefix = 128;
	} else {
		return -1;
	}
	if (slash != NULL) {
		errno = 0;
		prefix = strtol(slash + 1, &end, 10);
		if (errno != 0 || end == slash + 1 || *end != '\0' || prefix < 0 ||
		    prefix > out->prefix)
			return -1;
		out->prefix = (int)prefix;
	}
	return 0;
}

int
web_listen_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len, char *why,
    size_t why_size)
{
	char host[INET6_ADDRSTRLEN + 1], *end;
	const char *colon, *port_text;
	size_t host_len;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':') {
			snprintf(why, why_size, "expected [IPV6]:PORT, HOST:PORT or :PORT, not '%s'",
			    text);
			return -1;
		}
		host_len = (size_t)(close - text - 1);
		if (host_len >= sizeof(host))
			host_len = sizeof(host) - 1;
		memcpy(host, text + 1, host_len);
		port_text = close + 2;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL) {
			snprintf(why, why_size, "expected HOST:PORT, [IPV6]:PORT or :PORT, not '%s'",
			    text);
			return -1;
		}
		host_len = (size_t)(colon - text);
		if (host_len >= sizeof(host))
			host_len = sizeof(host) - 1;
		memcpy(host, text, host_len);
		port_text = colon + 1;
	}
	host[host_len] = '\0';
	errno = 0;
	port = strtol(port_text, &end, 10);
	if (errno != 0 || end == port_text || *end != '\0' || port < 1 || port > 65535) {
		snprintf(why, why_size, "the port in '%s' must be a number from 1 to 65535", text);
		return -1;
	}
	if (host[0] == '\0' || strcmp(host, "::") == 0) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
	} else if (strchr(host, ':') == NULL) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
			snprintf(why, why_size, "'%s' is no IPv4 address (names are not looked up)",
			    host);
			return -1;
		}
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
			snprintf(why, why_size, "'%s' is no IPv6 address", host);
			return -1;
		}
		*len = sizeof(*s6);
	}
	return 0;
}

static int
web_cidr_match(const struct web_cidr *c, int family, const unsigned char *addr)
{
	int full = c->prefix / 8, rest = c->prefix % 8;

	if (c->family != family)
		return 0;
	if (memcmp(c->addr, addr, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((c->addr[full] ^ addr[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

int
web_trusted(const struct web_conf *conf, const struct sockaddr *sa)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const unsigned char *addr;
	int family, i;

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		addr = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		addr = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		family = AF_INET6;
		/* a dual-stack socket shows IPv4 peers as ::ffff:A.B.C.D */
		if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
			family = AF_INET;
			addr += 12;
		}
	} else {
		return 0;
	}
	for (i = 0; i < conf->trusted_count; i++)
		if (web_cidr_match(&conf->trusted[i], family, addr))
			return 1;
	return 0;
}

/*
 * The bytes of sa's address and its family, an IPv4-mapped IPv6 address
 * (as a dual-stack socket shows IPv4 peers) as IPv4: NULL for another family.
 */
static const unsigned char *
web_addr_bytes(const struct sockaddr *sa, int *family)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const unsigned char *addr;

	if (sa == NULL)
		return NULL;
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		return (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	}
	if (sa->sa_family != AF_INET6)
		return NULL;
	addr = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	*family = AF_INET6;
	if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
		*family = AF_INET;
		addr += 12;
	}
	return addr;
}

int
web_loopback(const struct sockaddr *sa)
{
	static const unsigned char one[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	int family;
	const unsigned char *addr = web_addr_bytes(sa, &family);

	if (addr == NULL)
		return 0;
	/*
	 * 127.0.0.1 and ::1 only, what a local reverse proxy connects from: the
	 * rest of 127/8 counts as any host does (the tests play hosts there).
	 */
	return family == AF_INET ? addr[0] == 127 && addr[1] == 0 && addr[2] == 0 &&
	    addr[3] == 1 : memcmp(addr, one, sizeof(one)) == 0;
}

void
web_addr_key(const struct sockaddr *sa, char *buf, size_t size)
{
	unsigned char net[16];
	int family;
	const unsigned char *addr = web_addr_bytes(sa, &family);
	size_t len;

	snprintf(buf, size, "?");
	if (addr == NULL)
		return;
	if (family == AF_INET) {
		if (inet_ntop(AF_INET, addr, buf, (socklen_t)size) == NULL)
			snprintf(buf, size, "?");
		return;
	}
	memcpy(net, addr, 8);
	memset(net + 8, 0, 8);
	if (inet_ntop(AF_INET6, net, buf, (socklen_t)size) == NULL ||
	    (len = strlen(buf)) + 4 > size) {
		snprintf(buf, size, "?");
		return;
	}
	snprintf(buf + len, size - len, "/64");
}

void
web_addr_text(const struct sockaddr *sa, char *buf, size_t size)
{
	const void *addr;

	snprintf(buf, size, "?");
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		addr = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else
		return;
	if (inet_ntop(sa->sa_family, addr, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "?");
}

static int
web_host_add(struct web_conf *conf, const char *name)
{
	if (conf->host_count == WEB_MAX_HOSTS || name[0] == '\0' ||
	    strlen(name) > WEB_MAX_HOST_BYTES)
		return -1;
	snprintf(conf->hosts[conf->host_count++], WEB_MAX_HOST_BYTES + 1, "%s", name);
	return 0;
}

/* A DNS name: letters, digits, - and dots, 1 to 253 bytes. */
static int
web_host_name_ok(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > WEB_MAX_HOST_BYTES)
		return 0;
	for (i = 0; i < len; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
			return 0;
	}
	return 1;
}

/* Whether text is a port: 1 to 5 digits. */
static int
web_port_ok(const char *text)
{
	size_t len = strspn(text, "0123456789");

	return len >= 1 && len <= 5 && text[len] == '\0';
}

int
web_host_ok(const struct web_conf *conf, const char *host)
{
	char name[WEB_MAX_HOST_BYTES + 2], *colon;
	unsigned char addr[16];
	size_t len;
	int i;

	if (host == NULL)
		return 1;
	if (host[0] == '[') {
		/* [v6]:port: an address literal */
		const char *close = strchr(host, ']');
		len = close ? (size_t)(close - host - 1) : 0;
		/* after the literal only a port: "[::1]evil" is no host a browser sends */
		if (close == NULL || len == 0 || len >= sizeof(name) ||
		    (close[1] != '\0' && (close[1] != ':' || !web_port_ok(close + 2))))
			return 0;
		memcpy(name, host + 1, len);
		name[len] = '\0';
		return inet_pton(AF_INET6, name, addr) == 1;
	}
	if (strlen(host) >= sizeof(name))
		return 0;
	snprintf(name, sizeof(name), "%s", host);
	if ((colon = strchr(name, ':')) != NULL)
		*colon = '\0';
	/* a trailing dot names the same host */
	len = strlen(name);
	if (len > 1 && name[len - 1] == '.')
		name[len - 1] = '\0';
	if (inet_pton(AF_INET, name, addr) == 1)
		return 1;
	for (i = 0; i < conf->host_count; i++)
		if (strcasecmp(conf->hosts[i], name) == 0)
			return 1;
	return 0;
}

/*
 * Whether hash is one a login can match: a method libcrypt has and does
 * not call legacy (MD5, DES: too cheap to guess against), whole. A hash
 * cut or garbled when copied into web.yaml still "looks like" a hash, and
 * would only show as every login of that user failing; hashing a test
 * word with it gives a hash of another length then, or none. 0, or -1
 * with why.
 */
static int
web_hash_ok(const char *hash, char *why, size_t why_size)
{
	struct crypt_data *data;
	const char *got;
	int rc = 0;

	switch (crypt_checksalt(hash)) {
	case CRYPT_SALT_OK:
		break;
	case CRYPT_SALT_METHOD_LEGACY:
		snprintf(why, why_size, "a legacy hash method (MD5, DES), too cheap to guess "
		    "against: make a yescrypt one with lbl-web --hash-password");
		return -1;
	default:
		snprintf(why, why_size, "not a hash libcrypt can check: expected one such as "
		    "'$y$j9T$...' (make one with lbl-web --hash-password)");
		return -1;
	}
	if ((data = calloc(1, sizeof(*data))) == NULL) {
		snprintf(why, why_size, "out of memory to check the hash");
		return -1;
	}
	got = crypt_r("lbl-web check", hash, data);
	if (got == NULL || got[0] == '*') {
		snprintf(why, why_size, "not a hash libcrypt can check: expected one such as "
		    "'$y$j9T$...' (make one with lbl-web --hash-password)");
		rc = -1;
	} else if (strlen(got) != strlen(hash)) {
		snprintf(why, why_size, "the hash is incomplete or garbled (%zu characters, "
		    "where its method makes %zu): copy it whole from lbl-web --hash-password",
		    strlen(hash), strlen(got));
		rc = -1;
	}
	free(data);
	return rc;
}

/* A user's name: what lbld records, so letters, digits and . _ - only. */
static int
web_user_name_ok(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > WEB_MAX_USER_BYTES)
		return 0;
	for (i = 0; i < len; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

static int
web_conf_defaults(struct web_conf *conf, char *why, size_t why_size)
{
	char host[WEB_MAX_HOST_BYTES + 1];
	int i;

	memset(conf, 0, sizeof(*conf));
	snprintf(conf->listen_text, sizeof(conf->listen_text), "%s", WEB_DEFAULT_LISTEN);
	if (web_listen_parse(WEB_DEFAULT_LISTEN, &conf->listen, &conf->listen_len, why,
	    why_size) == -1)
		return -1;
	conf->socket_path = strdup(LBL_SOCKET_PATH);
	if (conf->socket_path == NULL) {
		snprintf(why, why_size, "out of memory");
		return -1;
	}
	for (i = 0; web_default_trusted[i] != NULL; i++)
		if (web_cidr_parse(web_default_trusted[i], &conf->trusted[i]) == -1) {
			snprintf(why, why_size, "bad built-in range %s", web_default_trusted[i]);
			return -1;
		}
	conf->trusted_count = i;
	/* localhost and this machine's name, alone and as mDNS gives it (NAME.local) */
	web_host_add(conf, "localhost");
	if (gethostname(host, sizeof(host) - 8) == 0 && host[0] != '\0' &&
	    web_host_name_ok(host)) {
		web_host_add(conf, host);
		if (strchr(host, '.') == NULL) {
			strcat(host, ".local");
			web_host_add(conf, host);
		}
	}
	return 0;
}

static char *
web_strdup_or_fail(struct diag *d, const struct conf_node *at, const char *s)
{
	char *copy = strdup(s);

	if (copy == NULL)
		diag_error(d, at, "out of memory");
	return copy;
}

static void
web_conf_users(struct diag *d, const struct conf_node *users, struct web_conf *conf)
{
	char why[200];
	size_t i;

	/* "users:" with nothing under it: nobody may change anything */
	if (users->type == CONF_SCALAR && users->text[0] == '\0' && !users->quoted)
		return;
	if (conf_expect(d, users, CONF_MAP, "users (NAME: HASH, from lbl-web --hash-password)")
	    == -1)
		return;
	for (i = 0; i < users->count; i++) {
		const struct conf_node *k = users->items[2 * i], *v = users->items[2 * i + 1];
		struct web_user *u;
		int j;

		if (!web_user_name_ok(k->text)) {
			diag_error(d, k, "users: '%s' is no user name (1 to %d letters, digits, "
			    ". _ or -)", k->text, WEB_MAX_USER_BYTES);
			continue;
		}
		for (j = 0; j < conf->user_count; j++)
			if (strcmp(conf->users[j].name, k->text) == 0)
				break;
		if (j < conf->user_count) {
			diag_error(d, k, "users: '%s' is named twice", k->text);
			continue;
		}
		if (v->type != CONF_SCALAR || v->text[0] != '$' || strlen(v->text) < 20) {
			diag_error(d, v, "users: %s: expected a password hash such as "
			    "'$y$j9T$...' (make one with lbl-web --hash-password)", k->text);
			continue;
		}
		if (web_hash_ok(v->text, why, sizeof(why)) == -1) {
			diag_error(d, v, "users: %s: %s", k->text, why);
			continue;
		}
		if (conf->user_count == WEB_MAX_USERS) {
			diag_error(d, k, "users: more than %d users", WEB_MAX_USERS);
			return;
		}
		u = &conf->users[conf->user_count];
		snprintf(u->name, sizeof(u->name), "%s", k->text);
		if ((u->hash = web_strdup_or_fail(d, v, v->text)) == NULL)
			return;
		conf->user_count++;
	}
}

int
web_conf_load(const char *path, struct diag *d, struct web_conf *conf)
{
	static const char *const keys[] = { "listen", "socket", "trusted", "users", "tls", "hosts",
		NULL };
	static const char *const tls_keys[] = { "cert", "key", NULL };
	const struct conf_node *root, *n;
	struct conf_doc *doc = NULL;
	const char *text;
	char why[256];
	size_t i;

	if (web_conf_defaults(conf, why, sizeof(why)) == -1) {
		diag_error(d, NULL, "%s", why);
		web_conf_free(conf);
		return -1;
	}
	if (path == NULL)
		return 0;
	if (conf_load(path, d, &doc) == -1) {
		web_conf_free(conf);
		return -1;
	}
	root = doc->root;
	if (root == NULL) {
		/* an empty file: the defaults */
		conf_free(doc);
		return 0;
	}
	if (conf_check_map(d, root, "lbl-web's configuration", keys) == -1)
		goto out;
	if (conf_get_string(d, root, "listen", 0, &text) == 1) {
		n = conf_lookup(root, "listen");
		if (web_listen_parse(text, &conf->listen, &conf->listen_len, why,
		    sizeof(why)) == -1)
			diag_error(d, n, "listen: %s", why);
		else
			snprintf(conf->listen_text, sizeof(conf->listen_text), "%s", text);
	}
	if (conf_get_string(d, root, "socket", 0, &text) == 1) {
		n = conf_lookup(root, "socket");
		if (text[0] != '/')
			diag_error(d, n, "socket: expected an absolute path, not '%s'", text);
		else {
			free(conf->socket_path);
			conf->socket_path = web_strdup_or_fail(d, n, text);
		}
	}
	if (conf_get_node(d, root, "trusted", 0, CONF_SEQ,
	    "trusted (a list of address ranges: 192.168.1.0/24, ::1/128)", &n) == 1) {
		/* the list replaces the defaults: an empty one trusts nobody */
		conf->trusted_count = 0;
		for (i = 0; i < n->count; i++) {
			const struct conf_node *item = n->items[i];
			if (item->type != CONF_SCALAR || web_cidr_parse(item->text,
			    &conf->trusted[conf->trusted_count]) == -1) {
				diag_error(d, item, "trusted: expected an address range such as "
				    "192.168.1.0/24 or fd00::/8, not '%s'",
				    item->type == CONF_SCALAR ? item->text : "(a list or map)");
				continue;
			}
			if (conf->trusted_count == WEB_MAX_TRUSTED) {
				diag_error(d, item, "trusted: more than %d ranges", WEB_MAX_TRUSTED);
				break;
			}
			conf->trusted_count++;
		}
	}
	if (conf_get_node(d, root, "hosts", 0, CONF_SEQ,
	    "hosts (the names browsers reach lbl-web by: rig.lab.example)", &n) == 1) {
		/* the names are added to the defaults (localhost, this machine's) */
		for (i = 0; i < n->count; i++) {
			const struct conf_node *item = n->items[i];
			if (item->type != CONF_SCALAR || !web_host_name_ok(item->text)) {
				diag_error(d, item, "hosts: expected a DNS name such as rig.lab.example, "
				    "not '%s'", item->type == CONF_SCALAR ? item->text : "(a list or map)");
				continue;
			}
			if (web_host_add(conf, item->text) == -1) {
				diag_error(d, item, "hosts: more than %d names", WEB_MAX_HOSTS);
				break;
			}
		}
	}
	if ((n = conf_lookup(root, "users")) != NULL)
		web_conf_users(d, n, conf);
	if (conf_get_node(d, root, "tls", 0, CONF_MAP, "tls (cert: FILE, key: FILE)", &n) == 1 &&
	    conf_check_map(d, n, "tls", tls_keys) == 0) {
		const char *cert = NULL, *key = NULL;

		if (conf_get_string(d, n, "cert", CONF_REQUIRED, &cert) == 1 &&
		    conf_get_string(d, n, "key", CONF_REQUIRED, &key) == 1) {
			conf->tls_cert = web_strdup_or_fail(d, n, cert);
			conf->tls_key = web_strdup_or_fail(d, n, key);
		}
	}
out:
	conf_free(doc);
	if (d->errors > 0) {
		web_conf_free(conf);
		return -1;
	}
	return 0;
}

void
web_conf_free(struct web_conf *conf)
{
	int i;

	free(conf->socket_path);
	free(conf->tls_cert);
	free(conf->tls_key);
	for (i = 0; i < conf->user_count; i++)
		free(conf->users[i].hash);
	memset(conf, 0, sizeof(*conf));
}
