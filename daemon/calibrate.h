/*
 * Pump calibration through lbld ('lblctl calibrate', daemon/calibrate.c):
 * a pump run at a set flow for a set time, whose commanded volume the
 * technician compares with what the measuring cylinder holds; then the
 * corrected flow scale, which lblctl writes into the pump's profile in the
 * rig file.
 */
#ifndef LBL_CALIBRATE_H
#define LBL_CALIBRATE_H

#include "control.h"

struct lbld;

/*
 * 'calibrate PUMP --flow Q --time T': runs the pump (operator only; refused
 * during a batch, homing, an e-stop or another calibration) and answers
 * with the commanded volume when it is off again; the pump is switched off
 * at once if the client goes away. 'calibrate PUMP --measured V': answers
 * the rig file, the profile and the corrected scale for lblctl to write,
 * from the last calibration run of that pump.
 */
void calibrate_request(struct lbld *l, struct control_client *c,
    const struct control_request *req);
/* Whether a calibration run has the pump on: a batch must not start meanwhile. */
int calibrate_busy(void);

#endif
