#!/usr/bin/python3
"""An independent Modbus peer (pymodbus) checking lbl-simrig's physics.

    simrig_peer.py tcp HOST PORT CHECK     simrig_peer.py rtu DEVICE BAUD CHECK

Prints PASS/FAIL lines like the other tests. CHECK is one of:
  axis      unit 1 is a generic-drive: move to 50 mm at 25 mm/s, watch busy,
            in-position and the position on the way
  pump      unit 9 is a generic-pump (the test adds it: the example rig's
            pumps are BT100S and stirrers): run at 6 mL/min, the volume integrates
  bt100s    unit 3 is a BT100S (HR 3100-3102): run and stop
  absent    unit 99 does not exist (TCP: gateway exception 11; RTU: silence)
  exception unit 1 answers exception 4 (a fault set beforehand)
  silent    unit 1 does not answer
  alarm     unit 1 reports its alarm bit
"""
import sys
import time

from pymodbus.client import ModbusSerialClient, ModbusTcpClient

failed = False

def check(name, ok, why=""):
    global failed
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why)))
    if not ok:
        failed = True

def connect(argv):
    if argv[1] == "tcp":
        client = ModbusTcpClient(argv[2], port=int(argv[3]), timeout=1, retries=0)
    else:
        client = ModbusSerialClient(argv[2], baudrate=int(argv[3]), timeout=1, retries=0)
    if not client.connect():
        print("FAIL %s: cannot connect" % argv[4])
        sys.exit(1)
    return client

def position_mm(client):
    r = client.read_input_registers(0, 3, slave=1)
    if r.isError():
        return None, None
    raw = (r.registers[0] << 16) | r.registers[1]
    if raw >= 1 << 31:
        raw -= 1 << 32
    return raw / 1000.0, r.registers[2]

def axis(client, scale):
    client.write_registers(0, [0, 50000, 250], slave=1)   # 50 mm, 25.0 mm/s
    t0 = time.monotonic()
    client.write_register(4, 1, slave=1)                  # go
    pos, status = position_mm(client)
    check("axis busy after go", status is not None and status & 1, "status %s" % status)
    seen_between = False
    while time.monotonic() - t0 < 10:
        pos, status = position_mm(client)
        if pos is not None and 0 < pos < 50:
            seen_between = True
        if status is not None and status & 2:
            break
        time.sleep(0.005)
    elapsed = time.monotonic() - t0
    check("axis passes through intermediate positions", seen_between, "never between")
    # bit 1 in position; bits 0 busy and 2 alarm clear; bit 3 homed (an axis the rig does not home)
    check("axis in position at 50 mm", pos == 50.0 and status is not None and status & 7 == 2,
          "pos %s status %s" % (pos, status))
    check("an axis the rig does not home reports homed", status is not None and status & 8,
          "status %s" % status)
    want = 50 / 25.0 / scale
    check("axis speed honoured (%.3f s, want %.3f s)" % (elapsed, want),
          want * 0.8 <= elapsed <= want * 1.5 + 0.05, "took %.3f s" % elapsed)
    client.write_register(4, 2, slave=1)                  # home
    while time.monotonic() - t0 < 20:
        pos, status = position_mm(client)
        if status is not None and status & 2:
            break
        time.sleep(0.01)
    check("axis homes to 0", pos == 0.0, "pos %s" % pos)

PUMP_UNIT = 9

def pump(client, scale):
    client.write_registers(0, [600, 0], slave=PUMP_UNIT)          # 6.00 mL/min forward
    client.write_register(2, 1, slave=PUMP_UNIT)                  # run
    r = client.read_input_registers(2, 1, slave=PUMP_UNIT)
    check("pump running bit", not r.isError() and r.registers[0] & 1, str(r))
    time.sleep(0.5)
    client.write_register(2, 0, slave=PUMP_UNIT)                  # stop
    r = client.read_input_registers(0, 3, slave=PUMP_UNIT)
    volume_ml = ((r.registers[0] << 16) | r.registers[1]) / 1000.0
    want = 6.0 / 60 * 0.5 * scale
    check("pump volume integrates (%.3f mL, want about %.3f)" % (volume_ml, want),
          want * 0.8 <= volume_ml <= want * 1.4, "%.3f mL" % volume_ml)
    check("pump stopped", r.registers[2] & 1 == 0, "status %d" % r.registers[2])
    time.sleep(0.2)
    r2 = client.read_input_registers(0, 2, slave=PUMP_UNIT)
    check("pump volume holds when stopped", r2.registers == r.registers[:2],
          "%s then %s" % (r.registers[:2], r2.registers))

def bt100s(client, _scale):
    r = client.write_registers(3100, [500, 0], slave=3)
    check("bt100s speed written", not r.isError(), str(r))
    client.write_register(3102, 1, slave=3)
    r = client.read_holding_registers(3100, 3, slave=3)
    check("bt100s running", not r.isError() and r.registers == [500, 0, 1], str(r))
    client.write_register(3102, 0, slave=3)
    r = client.read_holding_registers(3102, 1, slave=3)
    check("bt100s stopped", not r.isError() and r.registers[0] == 0, str(r))

def absent(client, _scale, rtu):
    r = client.read_input_registers(0, 1, slave=99)
    if rtu:
        check("absent unit is silent on RTU", r.isError() and not hasattr(r, "exception_code"), str(r))
    else:
        check("absent unit: gateway exception 11", getattr(r, "exception_code", None) == 11, str(r))

def main():
    argv = sys.argv
    what = argv[4]
    scale = float(argv[5]) if len(argv) > 5 else 1.0
    client = connect(argv)
    if what == "axis":
        axis(client, scale)
    elif what == "pump":
        pump(client, scale)
    elif what == "bt100s":
        bt100s(client, scale)
    elif what == "absent":
        absent(client, scale, argv[1] == "rtu")
    elif what == "exception":
        r = client.read_input_registers(0, 3, slave=1)
        check("fault exception: code 4", getattr(r, "exception_code", None) == 4, str(r))
    elif what == "silent":
        t0 = time.monotonic()
        r = client.read_input_registers(0, 3, slave=1)
        check("fault silent: no answer", r.isError() and not hasattr(r, "exception_code")
              and time.monotonic() - t0 >= 0.9, str(r))
    elif what == "alarm":
        r = client.read_input_registers(2, 1, slave=1)
        check("fault alarm: alarm bit", not r.isError() and r.registers[0] & 4, str(r))
    client.close()
    sys.exit(1 if failed else 0)

try:
    main()
except Exception as e:  # a check that cannot run is a failure, never a missing line
    print("FAIL peer %s: %s: %s" % (" ".join(sys.argv[1:]), type(e).__name__, e))
    sys.exit(1)
