#!/bin/sh
# A short bounded fuzz of the recipe parser under ASan+UBSan (make fuzz runs longer).
exec "$LBL_TOP/tests/fuzz/run.sh" "${LBL_FUZZ_SECONDS:-30}"
