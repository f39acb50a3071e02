/*
 * One device's state as a line of the 'lblctl hw' table or a JSON object:
 * shared by lblctl's own probe (no lbld running) and lbld's answer to the
 * 'hw' request, so both say the same thing in the same words.
 */
#ifndef LBL_HW_VIEW_H
#define LBL_HW_VIEW_H

#include <stddef.h>

#include "hw.h"
#include "json.h"

/* The table's header line, without a newline. */
void hw_view_header(char *buf, size_t size);
/*
 * Device i's line, without a newline: reached 0 when there was no answer
 * (res->error, if any, says why; NULL res: "no answer"). For an axis the
 * rig homes, res->homed is shown (1, 0; -1 hides it).
 */
void hw_view_line(const struct rig *rig, size_t i, int reached, const struct hw_result *res,
    char *buf, size_t size);
/*
 * Device i as a JSON object: name, role, kind, where, reachable, error,
 * and what its role reports (position_mm, moving, in_position, alarm,
 * homed, running, value, open, engaged), null where unknown.
 */
void hw_view_json(struct json *j, const struct rig *rig, size_t i, int reached,
    const struct hw_result *res);

#endif
