/*
 * lbl's default paths, defined once: the daemon, the client and lbl-safe
 * agree on where the rig file, the database and the control socket are.
 * The systemd unit, tmpfiles.d entry and man pages name the same ones.
 */
#ifndef LBL_PATHS_H
#define LBL_PATHS_H

#define LBL_RIG_PATH		"/etc/lbl/rig.yaml"
#define LBL_DB_PATH		"/var/lib/lbl/lbl.db"
#define LBL_SOCKET_PATH		"/run/lbl/lbld.sock"
/* lbl-web's configuration (web/lbl-web.8) */
#define LBL_WEB_CONFIG_PATH	"/etc/lbl/web.yaml"
/*
 * The rig's identity for the lab (a UUID, one line), made once by the
 * package's postinst (or by lbl-sync where it may write) beside the
 * database, and lbl-sync's own state (its cursor): lbl-sync(8).
 */
#define LBL_RIG_ID_PATH		"/var/lib/lbl/rig-id"
#define LBL_SYNC_STATE_DIR	"/var/lib/lbl-sync"
/* lbl-mqtt's configuration (mqtt/lbl-mqtt.8) */
#define LBL_MQTT_CONFIG_PATH	"/etc/lbl/mqtt.yaml"

#endif
