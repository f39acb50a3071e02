/*
 * Reads of a set of devices, for 'lblctl hw' through lbld and for
 * pre-flight: each device is probed once (HW_PROBE) behind every timed
 * request on its bus (hw_submit_poll()), and one callback hands over all
 * the results, when every device has answered or at the deadline, never
 * later. Nothing blocks: the reads complete in the loop.
 */
#ifndef LBL_DEVREAD_H
#define LBL_DEVREAD_H

#include "control.h"
#include "hw.h"
#include "loop.h"

struct lbld;
struct devread;

/*
 * All reads are in, or the deadline passed: reached[i] is 1 for a device
 * that answered (res[i] is its result, res[i].ok may still be 0), 0 for one
 * not asked or not answered in time. Both arrays are valid during the call;
 * both are NULL when the rig was reloaded meanwhile (the results are of a
 * rig that is gone).
 */
typedef void (*devread_done_cb)(void *arg, const struct hw_result *res, const int *reached);

/*
 * Probes the devices whose want[i] is set on hw (rig's), done called once
 * from the loop. The reads also tell act and home what they found (an
 * axis's position and homed flag), as lbld's own probe does. Returns 0,
 * or -1 with err (out of memory, or no timer): done is not called.
 */
int devread_start(struct lbld *l, const unsigned char *want, devread_done_cb done, void *arg,
    char *err, size_t err_size);

/*
 * 'hw [--json]': every device as lbld sees it: reachable (a fresh read),
 * position, flags and value from that read; inputs (e-stop, interlocks) at
 * the level lbld acts on, axes homed as lbld counts them; then lbld's
 * safety line. Any local user may ask.
 */
void devread_hw_request(struct lbld *l, struct control_client *c,
    const struct control_request *req);

#endif
