/*
 * mqtt.yaml: the broker, the rig's name in the topics, credentials, TLS
 * and Home Assistant discovery. Read with the project's YAML layer, so
 * every mistake is named FILE:LINE:COL and nothing starts half-configured.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mqtt.h"
#include "paths.h"

/* A password file holds one line; more is a mistake (a key pasted in?). */
#define MQTT_MAX_PASSWORD_BYTES	1024

int
mqtt_rig_name_ok(const char *name, char *why, size_t why_size)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > MQTT_MAX_RIG_BYTES) {
		snprintf(why, why_size, "1 to %d bytes", MQTT_MAX_RIG_BYTES);
		return 0;
	}
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];
		/* + and # are MQTT's wildcards, / its level separator */
		if (ch == '+' || ch == '#' || ch == '/') {
			snprintf(why, why_size, "'%c' has a meaning in MQTT topics", ch);
			return 0;
		}
		if (ch <= 0x20 || ch == 0x7f) {
			snprintf(why, why_size, "no spaces or control characters");
			return 0;
		}
	}
	return 1;
}

static char *
mqtt_strdup_or_fail(struct diag *d, const struct conf_node *at, const char *s)
{
	char *copy = strdup(s);

	if (copy == NULL)
		diag_error(d, at, "out of memory");
	return copy;
}

/*
 * Parses "HOST:PORT", "[V6]:PORT" or "HOST" (port 1883, or 8883 with TLS,
 * decided by the caller when *port is 0): 0, or -1 with why.
 */
static int
mqtt_broker_parse(const char *text, char **host, int *port, char *why, size_t why_size)
{
	const char *colon, *h = text, *p = NULL;
	size_t hlen;
	char *end;
	long n;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || (close[1] != ':' && close[1] != '\0')) {
			snprintf(why, why_size, "expected HOST:PORT or [IPV6]:PORT, not '%s'", text);
			return -1;
		}
		h = text + 1;
		hlen = (size_t)(close - h);
		p = close[1] == ':' ? close + 2 : NULL;
	} else if ((colon = strrchr(text, ':')) != NULL) {
		if (strchr(text, ':') != colon) {
			snprintf(why, why_size, "an IPv6 address goes in brackets: [%s]:1883", text);
			return -1;
		}
		hlen = (size_t)(colon - text);
		p = colon + 1;
	} else {
		hlen = strlen(text);
	}
	if (hlen == 0) {
		snprintf(why, why_size, "expected HOST:PORT, not '%s' (no host)", text);
		return -1;
	}
	*port = 0;
	if (p != NULL) {
		errno = 0;
		n = strtol(p, &end, 10);
		if (errno != 0 || end == p || *end != '\0' || n < 1 || n > 65535) {
			snprintf(why, why_size, "the port in '%s' must be a number from 1 to 65535",
			    text);
			return -1;
		}
		*port = (int)n;
	}
	if ((*host = strndup(h, hlen)) == NULL) {
		snprintf(why, why_size, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * Refuses a file holding a secret that every user may read: 0, or -1
 * reported at node at.
 */
static int
mqtt_secret_private(struct diag *d, const struct conf_node *at, const char *path, int fd,
    const char *what)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		diag_error(d, at, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & S_IROTH) {
		diag_error(d, at, "%s holds %s and every user may read it: chmod o-r %s "
		    "(0640 root:lbl-mqtt)", path, what, path);
		return -1;
	}
	return 0;
}

/* Reads a password file's first line: malloc'd, or NULL (reported at at). */
static char *
mqtt_password_file(struct diag *d, const struct conf_node *at, const char *path)
{
	char buf[MQTT_MAX_PASSWORD_BYTES + 2], *nl, *copy;
	ssize_t n;
	size_t len = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		diag_error(d, at, "password_file: cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (mqtt_secret_private(d, at, path, fd, "a password") == -1) {
		close(fd);
		return NULL;
	}
	while (len < sizeof(buf) - 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			diag_error(d, at, "password_file: reading %s: %s", path, strerror(errno));
			close(fd);
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL) {
		*nl = '\0';
		if (nl > buf && nl[-1] == '\r')
			nl[-1] = '\0';
	} else if (len > MQTT_MAX_PASSWORD_BYTES) {
		diag_error(d, at, "password_file: %s is longer than a password (%d bytes)", path,
		    MQTT_MAX_PASSWORD_BYTES);
		return NULL;
	}
	if (buf[0] == '\0') {
		diag_error(d, at, "password_file: %s is empty", path);
		return NULL;
	}
	copy = mqtt_strdup_or_fail(d, at, buf);
	explicit_bzero(buf, sizeof(buf));
	return copy;
}

/* A file path a key names: absolute, so the unit's working directory does not matter. */
static int
mqtt_get_path(struct diag *d, const struct conf_node *map, const char *key, unsigned flags,
    char **out)
{
	const char *text;
	int rc;

	if ((rc = conf_get_string(d, map, key, flags, &text)) != 1)
		return rc;
	if (text[0] != '/') {
		diag_error(d, conf_lookup(map, key), "%s: expected an absolute path, not '%s'", key,
		    text);
		return -1;
	}
	if ((*out = mqtt_strdup_or_fail(d, conf_lookup(map, key), text)) == NULL)
		return -1;
	return 1;
}

int
mqtt_conf_load(const char *path, struct diag *d, struct mqtt_conf *conf)
{
	static const char *const keys[] = { "broker", "rig", "socket", "username", "password",
		"password_file", "tls", "keepalive", "discovery", "discovery_prefix", NULL };
	static const char *const tls_keys[] = { "ca", "cert", "key", NULL };
	const struct conf_node *root, *n;
	struct conf_doc *doc = NULL;
	const char *text;
	char why[256];
	int64_t ms;
	int fd;

	memset(conf, 0, sizeof(*conf));
	conf->keepalive_s = MQTT_KEEPALIVE_DEFAULT_S;
	if ((conf->socket_path = strdup(LBL_SOCKET_PATH)) == NULL ||
	    (conf->discovery_prefix = strdup("homeassistant")) == NULL) {
		diag_error(d, NULL, "out of memory");
		mqtt_conf_free(conf);
		return -1;
	}
	if (conf_load(path, d, &doc) == -1) {
		mqtt_conf_free(conf);
		return -1;
	}
	root = doc->root;
	if (root == NULL) {
		diag_error(d, NULL, "the file is empty: it needs broker: and rig: at least");
		goto out;
	}
	if (conf_check_map(d, root, "lbl-mqtt's configuration", keys) == -1)
		goto out;
	if (conf_get_string(d, root, "broker", CONF_REQUIRED, &text) == 1 &&
	    mqtt_broker_parse(text, &conf->host, &conf->port, why, sizeof(why)) == -1)
		diag_error(d, conf_lookup(root, "broker"), "broker: %s", why);
	if (conf_get_string(d, root, "rig", CONF_REQUIRED, &text) == 1) {
		if (!mqtt_rig_name_ok(text, why, sizeof(why)))
			diag_error(d, conf_lookup(root, "rig"), "rig: '%s' cannot name a topic level: "
			    "%s", text, why);
		else
			conf->rig = mqtt_strdup_or_fail(d, conf_lookup(root, "rig"), text);
	}
	if (conf_get_string(d, root, "socket", 0, &text) == 1) {
		n = conf_lookup(root, "socket");
		if (text[0] != '/') {
			diag_error(d, n, "socket: expected an absolute path, not '%s'", text);
		} else {
			free(conf->socket_path);
			conf->socket_path = mqtt_strdup_or_fail(d, n, text);
		}
	}
	if (conf_get_string(d, root, "username", 0, &text) == 1)
		conf->username = mqtt_strdup_or_fail(d, conf_lookup(root, "username"), text);
	if (conf_lookup(root, "password") != NULL && conf_lookup(root, "password_file") != NULL)
		diag_error(d, conf_lookup(root, "password_file"),
		    "password_file: give password or password_file, not both");
	else if (conf_get_string(d, root, "password", 0, &text) == 1) {
		n = conf_lookup(root, "password");
		/* the password is in this file: it must not be readable by everyone */
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			diag_error(d, n, "%s: %s", path, strerror(errno));
		else {
			if (mqtt_secret_private(d, n, path, fd, "a password") == 0)
				conf->password = mqtt_strdup_or_fail(d, n, text);
			close(fd);
		}
	} else if (conf_get_string(d, root, "password_file", 0, &text) == 1) {
		n = conf_lookup(root, "password_file");
		if (text[0] != '/')
			diag_error(d, n, "password_file: expected an absolute path, not '%s'", text);
		else
			conf->password = mqtt_password_file(d, n, text);
	}
	if (conf->password != NULL && conf->username == NULL)
		diag_error(d, conf_lookup(root, "password") ? conf_lookup(root, "password") :
		    conf_lookup(root, "password_file"), "a password needs a username:");
	if (conf_get_node(d, root, "tls", 0, CONF_MAP,
	    "tls (ca: FILE, and cert: FILE, key: FILE for a client certificate)", &n) == 1 &&
	    conf_check_map(d, n, "tls", tls_keys) == 0) {
		mqtt_get_path(d, n, "ca", CONF_REQUIRED, &conf->tls_ca);
		mqtt_get_path(d, n, "cert", 0, &conf->tls_cert);
		mqtt_get_path(d, n, "key", 0, &conf->tls_key);
		if ((conf->tls_cert == NULL) != (conf->tls_key == NULL))
			diag_error(d, n, "tls: a client certificate needs both cert: and key:");
		if (conf->tls_key != NULL && (fd = open(conf->tls_key, O_RDONLY | O_CLOEXEC)) != -1) {
			mqtt_secret_private(d, conf_lookup(n, "key"), conf->tls_key, fd,
			    "a private key");
			close(fd);
		}
	}
	if (conf_get_duration(d, root, "keepalive", 0, &ms) == 1) {
		if (ms < MQTT_KEEPALIVE_MIN_S * 1000 || ms > MQTT_KEEPALIVE_MAX_S * 1000 ||
		    ms % 1000 != 0)
			diag_error(d, conf_lookup(root, "keepalive"), "keepalive: whole seconds from "
			    "%d s to %d s", MQTT_KEEPALIVE_MIN_S, MQTT_KEEPALIVE_MAX_S);
		else
			conf->keepalive_s = (int)(ms / 1000);
	}
	conf_get_bool(d, root, "discovery", 0, &conf->discovery);
	if (conf_get_string(d, root, "discovery_prefix", 0, &text) == 1) {
		n = conf_lookup(root, "discovery_prefix");
		if (text[0] == '\0' || strpbrk(text, "+#") != NULL || text[strlen(text) - 1] == '/')
			diag_error(d, n, "discovery_prefix: expected a topic such as homeassistant, "
			    "not '%s'", text);
		else {
			free(conf->discovery_prefix);
			conf->discovery_prefix = mqtt_strdup_or_fail(d, n, text);
		}
	}
	if (conf->port == 0)
		conf->port = conf->tls_ca != NULL ? 8883 : 1883;
out:
	conf_free(doc);
	if (d->errors > 0) {
		mqtt_conf_free(conf);
		return -1;
	}
	return 0;
}

void
mqtt_conf_free(struct mqtt_conf *conf)
{
	if (conf->password != NULL)
		explicit_bzero(conf->password, strlen(conf->password));
	free(conf->host);
	free(conf->rig);
	free(conf->socket_path);
	free(conf->username);
	free(conf->password);
	free(conf->tls_ca);
	free(conf->tls_cert);
	free(conf->tls_key);
	free(conf->discovery_prefix);
	memset(conf, 0, sizeof(*conf));
}
