/*
 * lbl-web's configuration (web/web_conf.c, included whole): address ranges
 * and who is trusted (IPv4, IPv6, IPv4-mapped IPv6 as a dual-stack socket
 * shows them), listen addresses, and web.yaml's keys, defaults and errors
 * named FILE:LINE:COL.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "web_conf.c"

/* lbl-web --hash-password's hash of "correct horse" */
#define GOOD_HASH "$y$j9T$VsrgW8p1nEj2p6hrmoiSm.$TiiQNvD08YVbW.p3v8uD4oW5uGUh2pDNBBE..umh7c/"
/* the same, its last character lost */
#define CUT_HASH "$y$j9T$VsrgW8p1nEj2p6hrmoiSm.$TiiQNvD08YVbW.p3v8uD4oW5uGUh2pDNBBE..umh7c"

static int
key4(const char *addr, char *buf, size_t size)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sin.sin_addr);
	web_addr_key((struct sockaddr *)&sin, buf, size);
	return web_loopback((struct sockaddr *)&sin);
}

static int
key6(const char *addr, char *buf, size_t size)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, addr, &sin6.sin6_addr);
	web_addr_key((struct sockaddr *)&sin6, buf, size);
	return web_loopback((struct sockaddr *)&sin6);
}

static int
trusted4(const struct web_conf *c, const char *addr)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sin.sin_addr);
	return web_trusted(c, (struct sockaddr *)&sin);
}

static int
trusted6(const struct web_conf *c, const char *addr)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, addr, &sin6.sin6_addr);
	return web_trusted(c, (struct sockaddr *)&sin6);
}

/* Loads text as a web.yaml: 0 or -1, with the rendered errors in errors (freed by the caller). */
static int
load(const char *text, struct web_conf *c, char **errors)
{
	char path[] = "/tmp/test_web_conf.XXXXXX";
	struct diag d;
	int fd = mkstemp(path), rc;

	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror("test_web_conf: temporary file");
		exit(1);
	}
	close(fd);
	diag_init(&d, path);
	rc = web_conf_load(path, &d, c);
	*errors = diag_render(&d);
	diag_free(&d);
	unlink(path);
	return rc;
}

int
main(void)
{
	struct web_conf c;
	struct web_cidr r;
	struct sockaddr_storage ss;
	socklen_t len;
	char why[256], *errors;
	struct diag d;

	TEST_EQ_INT("cidr: v4 range", web_cidr_parse("10.0.0.0/8", &r) == 0 && r.family == AF_INET &&
	    r.prefix == 8, 1);
	TEST_EQ_INT("cidr: v4 host", web_cidr_parse("192.168.1.7", &r) == 0 && r.prefix == 32, 1);
	TEST_EQ_INT("cidr: v6 host", web_cidr_parse("::1", &r) == 0 && r.family == AF_INET6 &&
	    r.prefix == 128, 1);
	TEST_EQ_INT("cidr: v6 range", web_cidr_parse("fc00::/7", &r) == 0 && r.prefix == 7, 1);
	TEST_EQ_INT("cidr: prefix too long", web_cidr_parse("10.0.0.0/33", &r), -1);
	TEST_EQ_INT("cidr: v6 prefix too long", web_cidr_parse("::/129", &r), -1);
	TEST_EQ_INT("cidr: no prefix after /", web_cidr_parse("10.0.0.0/", &r), -1);
	TEST_EQ_INT("cidr: no address", web_cidr_parse("/8", &r), -1);
	TEST_EQ_INT("cidr: a name", web_cidr_parse("lab.example/24", &r), -1);
	TEST_EQ_INT("cidr: trailing junk", web_cidr_parse("10.0.0.0/8x", &r), -1);

	TEST_EQ_INT("listen: v6 any", web_listen_parse("[::]:8080", &ss, &len, why, sizeof(why)) == 0 &&
	    ss.ss_family == AF_INET6 && ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == 8080, 1);
	TEST_EQ_INT("listen: :PORT is every address", web_listen_parse(":9000", &ss, &len, why,
	    sizeof(why)) == 0 && ss.ss_family == AF_INET6, 1);
	TEST_EQ_INT("listen: v4", web_listen_parse("127.0.0.2:80", &ss, &len, why, sizeof(why)) == 0 &&
	    ss.ss_family == AF_INET && len == sizeof(struct sockaddr_in), 1);
	TEST_EQ_INT("listen: v6 address", web_listen_parse("[::1]:80", &ss, &len, why, sizeof(why)),
	    0);
	TEST_EQ_INT("listen: no port", web_listen_parse("127.0.0.1", &ss, &len, why, sizeof(why)),
	    -1);
	TEST_CONTAINS("listen: says what it expects", why, "HOST:PORT");
	TEST_EQ_INT("listen: port 0", web_listen_parse("127.0.0.1:0", &ss, &len, why, sizeof(why)),
	    -1);
	TEST_EQ_INT("listen: port 70000", web_listen_parse(":70000", &ss, &len, why, sizeof(why)),
	    -1);
	TEST_EQ_INT("listen: names are not looked up", web_listen_parse("localhost:80", &ss, &len,
	    why, sizeof(why)), -1);
	TEST_CONTAINS("listen: says so", why, "not looked up");
	TEST_EQ_INT("listen: an unclosed bracket", web_listen_parse("[::1:80", &ss, &len, why,
	    sizeof(why)), -1);

	/* the defaults: loopback and the private ranges */
	diag_init(&d, "none");
	TEST_EQ_INT("defaults: load", web_conf_load(NULL, &d, &c), 0);
	diag_free(&d);
	TEST_STR("defaults: listen", c.listen_text, "[::]:8080");
	TEST_STR("defaults: lbld's socket", c.socket_path, "/run/lbl/lbld.sock");
	TEST_EQ_INT("defaults: no users", c.user_count, 0);
	TEST_EQ_INT("trusted: loopback", trusted4(&c, "127.0.0.1"), 1);
	TEST_EQ_INT("trusted: 192.168/16", trusted4(&c, "192.168.20.3"), 1);
	TEST_EQ_INT("trusted: 172.31.255.255 (in 172.16/12)", trusted4(&c, "172.31.255.255"), 1);
	TEST_EQ_INT("trusted: 172.32.0.1 (past 172.16/12)", trusted4(&c, "172.32.0.1"), 0);
	TEST_EQ_INT("trusted: a public v4", trusted4(&c, "8.8.8.8"), 0);
	TEST_EQ_INT("trusted: v6 loopback", trusted6(&c, "::1"), 1);
	TEST_EQ_INT("trusted: v6 ULA", trusted6(&c, "fd12:3456::1"), 1);
	TEST_EQ_INT("trusted: v6 link-local", trusted6(&c, "fe80::1"), 1);
	TEST_EQ_INT("trusted: a public v6", trusted6(&c, "2001:db8::1"), 0);
	TEST_EQ_INT("trusted: v4-mapped private", trusted6(&c, "::ffff:10.1.2.3"), 1);
	TEST_EQ_INT("trusted: v4-mapped public", trusted6(&c, "::ffff:8.8.8.8"), 0);
	TEST_EQ_INT("trusted: no address", web_trusted(&c, NULL), 0);
	TEST_EQ_INT("host: an IPv4 literal with a port", web_host_ok(&c, "192.168.1.20:8080"), 1);
	TEST_EQ_INT("host: an IPv6 literal", web_host_ok(&c, "[fe80::1]:8080"), 1);
	TEST_EQ_INT("host: localhost", web_host_ok(&c, "localhost:8080"), 1);
	TEST_EQ_INT("host: an IPv6 literal without a port", web_host_ok(&c, "[::1]"), 1);
	TEST_EQ_INT("host: an IPv6 literal, then a name", web_host_ok(&c, "[::1]evil.example"), 0);
	TEST_EQ_INT("host: an IPv6 literal, then no port", web_host_ok(&c, "[::1]:"), 0);
	TEST_EQ_INT("host: an IPv6 literal, then a word", web_host_ok(&c, "[::1]:80x"), 0);
	TEST_EQ_INT("host: LOCALHOST., case and the root dot aside", web_host_ok(&c, "LOCALHOST."),
	    1);
	TEST_EQ_INT("host: none (HTTP/1.0)", web_host_ok(&c, NULL), 1);
	TEST_EQ_INT("host: a name of elsewhere (DNS rebinding)", web_host_ok(&c, "evil.example:8080"),
	    0);
	TEST_EQ_INT("host: a broken v6 literal", web_host_ok(&c, "[fe80::1"), 0);
	TEST_EQ_INT("host: a name in brackets", web_host_ok(&c, "[localhost]"), 0);
	{
		char me[256];
		if (gethostname(me, sizeof(me)) == 0 && me[0] && strlen(me) < 200) {
			TEST_EQ_INT("host: this machine's name", web_host_ok(&c, me), 1);
			if (strchr(me, '.') == NULL) {
				strcat(me, ".local:80");
				TEST_EQ_INT("host: this machine's .local name", web_host_ok(&c, me), 1);
			}
		}
	}
	web_conf_free(&c);

	/* a whole file */
	TEST_EQ_INT("file: loads", load("listen: \"127.0.0.1:8081\"\nsocket: /tmp/x.sock\n"
	    "trusted: [10.0.0.0/8]\nusers:\n  alice: \"" GOOD_HASH "\"\n"
	    "tls: {cert: /etc/lbl/c.pem, key: /etc/lbl/k.pem}\nhosts: [rig.lab.example]\n", &c,
	    &errors), 0);
	free(errors);
	TEST_STR("file: listen", c.listen_text, "127.0.0.1:8081");
	TEST_STR("file: socket", c.socket_path, "/tmp/x.sock");
	TEST_EQ_INT("file: trusted replaces the defaults", trusted4(&c, "127.0.0.1") == 0 &&
	    trusted4(&c, "10.9.8.7") == 1, 1);
	TEST_EQ_INT("file: one user", c.user_count, 1);
	TEST_STR("file: the user", c.users[0].name, "alice");
	TEST_STR("file: tls key", c.tls_key, "/etc/lbl/k.pem");
	TEST_EQ_INT("file: hosts adds a name", web_host_ok(&c, "Rig.Lab.Example:8080"), 1);
	TEST_EQ_INT("file: hosts keeps localhost", web_host_ok(&c, "localhost"), 1);
	web_conf_free(&c);

	TEST_EQ_INT("file: empty users", load("users:\n", &c, &errors), 0);
	free(errors);
	TEST_EQ_INT("file: empty users, nobody", c.user_count, 0);
	web_conf_free(&c);

	TEST_EQ_INT("file: an empty trusted list trusts nobody", load("trusted: []\n", &c, &errors),
	    0);
	free(errors);
	TEST_EQ_INT("file: nobody trusted", trusted4(&c, "127.0.0.1"), 0);
	web_conf_free(&c);

	TEST_EQ_INT("errors: refused", load("listen: nowhere\nsocket: relative.sock\n"
	    "trusted: [10.0.0.0/8, bogus]\nusers:\n  \"bad name\": \"$y$j9T$abcdefghijklmnopqr\"\n"
	    "  bob: plaintext\n  carol: \"" GOOD_HASH "\"\n"
	    "  carol: \"" GOOD_HASH "\"\ntls: {cert: /c.pem}\ncolour: red\n"
	    "hosts: [\"rig lab\"]\n",
	    &c, &errors), -1);
	TEST_CONTAINS("errors: listen at 1:9", errors, ":1:9: error: listen:");
	TEST_CONTAINS("errors: socket at 2:9", errors, ":2:9: error: socket: expected an absolute");
	TEST_CONTAINS("errors: trusted at 3:23", errors, ":3:23: error: trusted:");
	TEST_CONTAINS("errors: user name at 5:3", errors, ":5:3: error: users: 'bad name'");
	TEST_CONTAINS("errors: a plain password at 6:8", errors, ":6:8: error: users: bob:");
	TEST_CONTAINS("errors: a user twice", errors, "'carol' is named twice");
	TEST_CONTAINS("errors: tls needs a key", errors, "key");
	TEST_CONTAINS("errors: an unknown key", errors, "colour");
	TEST_CONTAINS("errors: a host that is no name at 11:9", errors, ":11:9: error: hosts:");
	TEST_EQ_INT("errors: the configuration is emptied", c.socket_path == NULL &&
	    c.user_count == 0, 1);
	free(errors);

	/*
	 * A hash that looks like one but cannot match any password (cut or
	 * garbled when copied) or is of a legacy method is refused where it
	 * stands: before, --check said ok and every login of that user failed.
	 */
	TEST_EQ_INT("hashes: refused", load("users:\n  whole: \"" GOOD_HASH "\"\n"
	    "  cut: \"" CUT_HASH "\"\n  long: \"" GOOD_HASH "x\"\n"
	    "  nohash: \"$y$j9T$notarealhashnotarealhash\"\n"
	    "  sha: \"$6$rounds=5000$abc$truncated\"\n"
	    "  md5: \"$1$abcdefgh$znAnv9M.XU2pRYfmSs46h/\"\n"
	    "  junk: \"$y$garbage-garbage-garbage\"\n", &c, &errors), -1);
	TEST_CONTAINS("hashes: cut at 3:8", errors, ":3:8: error: users: cut: the hash is "
	    "incomplete or garbled (72 characters, where its method makes 73)");
	TEST_CONTAINS("hashes: too long at 4:9", errors, ":4:9: error: users: long: the hash is "
	    "incomplete");
	TEST_CONTAINS("hashes: a setting alone at 5:11", errors, ":5:11: error: users: nohash: "
	    "the hash is incomplete");
	TEST_CONTAINS("hashes: a cut sha512crypt at 6:8", errors, ":6:8: error: users: sha: the "
	    "hash is incomplete");
	TEST_CONTAINS("hashes: md5crypt is legacy at 7:8", errors, ":7:8: error: users: md5: a "
	    "legacy hash method");
	TEST_CONTAINS("hashes: garbage at 8:9", errors, ":8:9: error: users: junk: not a hash "
	    "libcrypt can check");
	TEST_CHECK("hashes: the whole one is not named", strstr(errors, "users: whole") == NULL,
	    "%s", errors);
	free(errors);

	/*
	 * The client a connection or a login attempt counts for: an IPv4
	 * address whole, an IPv6 host by its /64 (it may take any address of
	 * it), an IPv4-mapped address as IPv4; loopback told apart.
	 */
	{
		char a[64], b[64];
		TEST_EQ_INT("key: v4 not loopback", key4("192.0.2.7", a, sizeof(a)), 0);
		TEST_STR("key: v4 whole", a, "192.0.2.7");
		key4("192.0.2.8", b, sizeof(b));
		TEST_EQ_INT("key: two v4 hosts differ", strcmp(a, b) != 0, 1);
		TEST_EQ_INT("key: v6 not loopback", key6("2001:db8:1:2:aaaa:bbbb:cccc:dddd", a,
		    sizeof(a)), 0);
		TEST_STR("key: v6 by its /64", a, "2001:db8:1:2::/64");
		key6("2001:db8:1:2::1234", b, sizeof(b));
		TEST_STR("key: another address of the /64 counts the same", b, "2001:db8:1:2::/64");
		key6("2001:db8:1:3::1", b, sizeof(b));
		TEST_STR("key: the next /64 is another client", b, "2001:db8:1:3::/64");
		key6("::ffff:192.0.2.9", b, sizeof(b));
		TEST_STR("key: v4-mapped as v4", b, "192.0.2.9");
		TEST_EQ_INT("loopback: 127.0.0.1", key4("127.0.0.1", a, sizeof(a)), 1);
		TEST_EQ_INT("not exempt: 127.1.2.3 (only a local proxy's 127.0.0.1)",
		    key4("127.1.2.3", a, sizeof(a)), 0);
		TEST_EQ_INT("loopback: ::1", key6("::1", a, sizeof(a)), 1);
		TEST_EQ_INT("loopback: ::ffff:127.0.0.1", key6("::ffff:127.0.0.1", a, sizeof(a)), 1);
		TEST_EQ_INT("loopback: not ::2", key6("::2", a, sizeof(a)), 0);
	}
	return TEST_DONE();
}
