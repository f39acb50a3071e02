/*
 * lblctl hw's lines and JSON (hw/drivers/hw_view.c): a device that did not
 * answer is a line of its own with its error; flags a profile does not
 * report stay out; an input's level reads ENGAGED, released or unknown.
 */
#include <stdlib.h>

#include "hw_view.h"
#include "test.h"

static const char rig_text[] =
    "name: t\n"
    "buses:\n"
    "  b: {type: tcp, host: 127.0.0.1, port: 1502}\n"
    "devices:\n"
    "  lift: {role: axis, kind: lift, bus: b, unit: 1, profile: generic-drive,\n"
    "         travel: {min: 0 mm, max: 150 mm}, max_speed: 50 mm/s, home: command}\n"
    "  estop: {role: input, kind: estop, gpio: {chip: c0, line: L1}}\n";

int
main(void)
{
	struct hw_result res = { .ok = 1, .position_mm = 12.5, .busy = 0, .in_position = 1,
		.alarm = -1, .running = -1, .homed = 0 };
	struct rig *rig = NULL;
	struct diag d;
	struct json j;
	char line[600];

	diag_init(&d, "rig.yaml");
	TEST_EQ_INT("test rig loads", rig_load_buffer("rig.yaml", rig_text, strlen(rig_text), &d,
	    &rig), 0);
	diag_free(&d);
	if (rig == NULL)
		return TEST_DONE();

	hw_view_header(line, sizeof(line));
	TEST_CONTAINS("header names the columns", line, "DEVICE       ROLE    BUS/UNIT");
	hw_view_line(rig, 0, 1, &res, line, sizeof(line));
	TEST_CONTAINS("axis: where, reachable, status and position", line,
	    "lift         axis    b unit 1                 yes       in position, NOT homed   "
	    "12.500 mm");
	TEST_CHECK("no alarm flag shown when the profile has none", strstr(line, "ALARM") == NULL,
	    "%s", line);
	res.alarm = 1;
	res.homed = 1;
	hw_view_line(rig, 0, 1, &res, line, sizeof(line));
	TEST_CONTAINS("alarm and homed shown", line, "in position, ALARM, homed");

	res = (struct hw_result){ .ok = 0 };
	snprintf(res.error, sizeof(res.error), "device 'lift' (bus b, unit 1): timed out");
	hw_view_line(rig, 0, 1, &res, line, sizeof(line));
	TEST_CONTAINS("unreachable: no, and its error", line,
	    "b unit 1                 no        device 'lift' (bus b, unit 1): timed out");
	hw_view_line(rig, 0, 0, NULL, line, sizeof(line));
	TEST_CONTAINS("never answered: no answer", line, " no        no answer");

	res = (struct hw_result){ .ok = 1, .value = 1, .position_mm = NAN };
	hw_view_line(rig, 1, 1, &res, line, sizeof(line));
	TEST_CONTAINS("input engaged", line, "gpio c0/L1               yes       ENGAGED");
	res.value = -1;
	hw_view_line(rig, 1, 1, &res, line, sizeof(line));
	TEST_CONTAINS("input level unknown", line, "yes       unknown");

	json_init(&j);
	json_array_begin(&j);
	res = (struct hw_result){ .ok = 1, .position_mm = 3, .busy = 1, .in_position = 0,
		.alarm = -1, .running = -1, .homed = 1 };
	hw_view_json(&j, rig, 0, 1, &res);
	res = (struct hw_result){ .ok = 0 };
	hw_view_json(&j, rig, 1, 0, NULL);
	json_array_end(&j);
	TEST_STR("JSON: every key, null where unknown", json_text(&j),
	    "[{\"name\":\"lift\",\"role\":\"axis\",\"kind\":\"lift\",\"where\":\"b unit 1\","
	    "\"reachable\":true,\"error\":null,\"position_mm\":3,\"moving\":true,"
	    "\"in_position\":false,\"alarm\":null,\"homed\":true},"
	    "{\"name\":\"estop\",\"role\":\"input\",\"kind\":\"estop\",\"where\":\"gpio c0/L1\","
	    "\"reachable\":false,\"error\":\"no answer\"}]");
	json_free(&j);
	rig_free(rig);
	return TEST_DONE();
}
