"""Validated configuration of the control core: every limit, with its bounds and why.

Owns: the table of configurable integers (name, default, lower bound, upper bound),
loading them from the hardware parameter file and from stored settings, and the
cross-field rules (loading < rest < soft max < over-travel; jog <= normal <= emergency).

Values are validated once, when set; a bad value raises ConfigError with a clear
message and leaves the configuration unchanged. Units are in every name.
"""


class ConfigError(ValueError):
    pass


# "name default low high", one field per line - each line says why the bounds are what
# they are. One string, not a tuple per field: code run in place (frozen, ROMFS) keeps
# it out of the RAM heap (names.py); fields() and field() read it.
_FIELDS = (
    # --- frame and drive: defaults are overwritten from hardware/table_params.json ---
    "\nloading_angle_mdeg -60000 -85000 -10000"  # standing position is head-up (negative)
    "\nhome_switch_mdeg -59000 -85000 -5000"  # home switch edge, just off the loading stop
    "\nsoft_max_mdeg 65000 10000 80000"  # firmware never targets past this
    "\novertravel_mdeg 68000 15000 85000"  # over-travel switch, above the soft max
    "\nmotor_steps_per_rev 200 24 400"  # full steps of the stepper
    "\nmicrosteps 8 1 64"  # driver microstep setting
    "\ngear_ratio 300 10 2000"  # motor revolutions per table revolution
    "\nbacklash_mdeg 300 0 2000"  # gearbox lash seen at the table
    "\nkinematics 0 0 1"  # 0 = rotary drive through the gearbox, 1 = lead screw
    "\nscrew_lead_um 4000 500 20000"  # lead screw: travel per screw revolution
    "\nscrew_frame_mm 600 100 2000"  # lead screw: pivot to frame anchor
    "\nscrew_table_mm 400 100 2000"  # lead screw: pivot to table anchor
    "\nscrew_offset_mdeg 90000 0 180000"  # lead screw: anchor angle at table angle 0
    # --- motion limits at the table (mdeg/s, mdeg/s^2) ---
    # 3.5 dps: slow, calm tilting (guidance: go slow). The fastest head-down speed, so
    # at most 3.5 dps: an e-stop then stops within 0.4 deg (2 ticks + braking at the
    # emergency acceleration's lower bound), and the motor keeps its margin of 2
    "\nnormal_speed_mdeg_s 3500 500 3500"
    "\nnormal_accel_mdeg_s2 4000 500 10000"  # 1 s ramps at normal speed
    "\njog_speed_mdeg_s 2000 200 4000"  # hold-to-run and recovery run at reduced speed
    # Jog and every fault stop or fault return brake at this: a fault while tilting
    # head-down at normal speed stops within 0.4 deg, as an e-stop does
    "\njog_accel_mdeg_s2 20000 500 20000"
    # Emergency return: a little faster than normal, but kept where the motor still has
    # a pull-out margin of 2 for a 150 kg user 150 mm off (hardware/mechanics_figures.md);
    # a reliable return beats a fast one that loses steps.
    "\nemergency_speed_mdeg_s 4000 1000 4000"
    # Brakes a head-down tilt on an e-stop: 3.5 dps stops in 0.38 deg (0.07 deg in the
    # 2 ticks before braking, 0.31 deg braking). 20 dps^2 is 0.35 m/s^2 (0.036 g) at a
    # head 1 m from the pivot: a gentle stop. At least 19 dps^2 (0.4 deg at 3.5 dps); at
    # most 20 (the return's ramp at emergency speed keeps a pull-out margin of 2).
    "\nemergency_accel_mdeg_s2 20000 19000 20000"
    "\nhoming_slow_mdeg_s 500 100 2000"  # second, precise approach to the home switch
    "\nhoming_retract_mdeg 2000 500 5000"  # back off the switch before the slow approach
    # the switch must be found within this travel past the counted loading angle: the
    # runaway tolerance of lost steps plus margin (the mechanical stop is 1 deg further)
    "\nhoming_travel_mdeg 3000 1000 20000"
    # --- session rules ---
    "\nrest_angle_mdeg 0 -10000 0"  # horizontal: rest here before coming up; never head-down
    "\nrest_pause_ms 10000 0 120000"  # rest near horizontal before standing (dizziness)
    # above this the person counts as head-down: the session clock, the cap, the hold
    # timer and the lift check act beyond it (issue #18: 0.5 deg, the calibrated IMU's
    # tolerance). At most that: a therapist's setting must not open a head-down hole
    # with no cap and no lift check (attack18c: 10 deg; attack18d: 1 deg held 0.94 deg
    # with no end, and issue #18 counts > 0.5 deg as head-down); stored values above
    # are clamped at load (migrate())
    "\nhead_down_mdeg 500 0 500"
    "\ndeep_angle_mdeg 60000 30000 80000"  # beyond about 60 deg only seconds
    "\ndeep_hold_max_ms 10000 0 30000"  # hold cap beyond deep_angle_mdeg
    "\narrive_tol_mdeg 500 50 3000"  # close enough to a target to call it reached
    # --- buttons and switches ---
    "\ndebounce_ms 30 5 200"  # contact bounce of the table buttons
    "\nlong_press_ms 1500 500 5000"  # START long press cycles programs
    "\nchord_ms 3000 1000 10000"  # UP+DOWN chord held this long = consent acknowledgement
    "\nstuck_button_ms 120000 10000 600000"  # held longer than any real use: stuck
    "\nswitch_samples 3 1 10"  # limit switches re-checked over this many ticks
    # --- IMU estimation and plausibility ---
    "\nimu_axis 1 0 2"  # sensor axis (0=x, 1=y, 2=z) parallel to the pivot
    "\nimu_sign 1 -1 1"  # +1 if positive rotation about that axis is head-down (0 refused)
    "\nimu_zero_mdeg 0 -15000 15000"  # calibration: mounting offset subtracted from the tilt
    # calibration (two points, firmware/imucal.py): the zero-g offsets of the two
    # accelerometer axes in the tilt plane (estimator.py: acc_s, acc_c). Datasheet
    # tolerance X/Y +-50 mg, Z +-80 mg (PS-MPU-6000A table 6.2); 150 leaves margin, a
    # larger one is a damaged part or a wrong calibration
    "\nimu_acc_sin_off_mg 0 -150 150"
    "\nimu_acc_cos_off_mg 0 -150 150"
    # commissioning (firmware/commissioning.py): 1 once a two-point calibration succeeded;
    # only `calibrate` sets it (cmdparse._FIXED), head-down motion is refused until then
    "\nimu_calibrated 0 0 1"
    "\nfusion_tau_ms 500 50 5000"  # complementary filter: gyro trusted on this time scale
    "\ngravity_min_mg 850 500 1000"  # |g| window: outside it the accel is not tilt
    "\ngravity_max_mg 1150 1000 1500"
    "\nrate_max_mdeg_s 20000 5000 100000"  # twice the fastest the drive can turn the table
    # identical raw samples this many ticks: a frozen sensor. 250 ms: a live 16-bit sensor
    # (noise of several LSB) never repeats that long, and the boot self-test (300 ms) sees it
    "\nfrozen_samples 25 5 1000"
    "\nbus_error_limit 5 1 100"  # consecutive I2C errors before the angle is untrusted
    "\nrunaway_tol_mdeg 2500 500 10000"  # steps vs IMU: backlash + estimator error + margin
    "\nrunaway_window_ms 1000 100 10000"  # error must persist this long to trip
    # --- main loop ---
    "\ntick_ms 10 5 10"  # 100 Hz loop; longer ticks would break the 0.5 deg e-stop bound
    "\noverrun_limit 10 2 1000"  # consecutive overruns that make a fault
    "\nwdt_timeout_ms 1000 200 8000"  # > longest blocking I2C timeout, < a person's patience
    "\n"
)


def _parse(table, i):
    # (name, default, low, high) of the table line that starts at i
    w = table[i:table.find("\n", i)].split()
    return w[0], int(w[1]), int(w[2]), int(w[3])


def field(name, table=_FIELDS):
    """(name, default, low, high) of a field, or None if there is none. table: this
    module's, or another in the same format (profiles.py)."""
    if type(name) is not str or " " in name or "\n" in name:
        return None
    i = table.find("\n%s " % name)
    return _parse(table, i + 1) if i >= 0 else None


def fields(table=_FIELDS):
    """Every field's (name, default, low, high), in table order."""
    i = 1
    while i < len(table):
        yield _parse(table, i)
        i = table.find("\n", i) + 1


def field_names(table=_FIELDS):
    """Every field's name, in table order (without parsing the numbers: cheaper)."""
    i = 1
    while i < len(table):
        j = table.find(" ", i)
        yield table[i:j]
        i = table.find("\n", j) + 1


def field_at(k, table=_FIELDS):
    """The k-th field's (name, default, low, high), or None past the last one."""
    i = 1
    while k > 0 and i > 0:
        i = table.find("\n", i) + 1
        k -= 1
    return _parse(table, i) if 0 < i < len(table) else None


def field_count(table=_FIELDS):
    return table.count("\n") - 1


def is_int(value):
    """True for a real integer (not a bool, not a float)."""
    return type(value) is int


class Config:
    """The live configuration: one attribute per field, always valid."""

    def __init__(self):
        for f in fields():
            setattr(self, f[0], f[1])
        self.check()

    def __getattr__(self, name: str) -> int:
        # Only reached for a name that is not a field; declared so type checkers know
        # every field attribute (set from the table in __init__) is an int.
        raise AttributeError(name)

    def names(self):
        return list(field_names())

    def get(self, name):
        if field(name) is None:
            raise ConfigError("unknown setting '%s'" % name)
        return getattr(self, name)

    def as_dict(self):
        d = {}
        for name in field_names():
            d[name] = getattr(self, name)
        return d

    def update(self, values):
        """Validate every value and the cross-field rules, then apply all or none."""
        for name in values:
            _validate_one(name, values[name])
        old = self.as_dict()
        for name in values:
            setattr(self, name, values[name])
        try:
            self.check()
        except ConfigError:
            for name in old:
                setattr(self, name, old[name])
            raise

    def set(self, name, value):
        self.update({name: value})

    def check(self):
        """Cross-field rules; raises ConfigError naming the rule that fails."""
        _order(self.loading_angle_mdeg, self.home_switch_mdeg, "loading angle", "home switch")
        _order(self.home_switch_mdeg, self.rest_angle_mdeg, "home switch", "rest angle")
        _order(self.rest_angle_mdeg, self.soft_max_mdeg, "rest angle", "soft max")
        _order(self.soft_max_mdeg, self.overtravel_mdeg, "soft max", "over-travel switch")
        _order(self.head_down_mdeg - 1, self.soft_max_mdeg, "head-down threshold", "soft max")
        if self.jog_speed_mdeg_s > self.normal_speed_mdeg_s:
            raise ConfigError("jog speed must not exceed normal speed")
        if self.normal_speed_mdeg_s > self.emergency_speed_mdeg_s:
            raise ConfigError("normal speed must not exceed emergency speed")
        if self.homing_slow_mdeg_s > self.jog_speed_mdeg_s:
            raise ConfigError("homing slow speed must not exceed jog speed")
        if self.imu_sign == 0:
            raise ConfigError("imu_sign must be +1 or -1")
        if self.gravity_min_mg >= self.gravity_max_mg:
            raise ConfigError("gravity window is empty")


# Stored settings whose range was narrowed by a safety fix: at load a value outside the
# new range is clamped to it (toward safety: the threshold 0.5 deg at most), not refused -
# a refusal would drop every stored setting (the IMU calibration with them) and latch a
# fault; the table boots on the clamped value and says so (App.startup_errors).
_MIGRATE = ("head_down_mdeg",)


def migrate(settings):
    """Clamp the narrowed fields of a stored settings dict into their ranges, in place;
    returns the human-readable notes (one per value changed)."""
    notes = []
    for name in _MIGRATE:
        v = settings.get(name)
        f = field(name)
        if f is None or not is_int(v):
            continue
        c = f[2] if v < f[2] else f[3] if v > f[3] else v
        if c != v:
            settings[name] = c
            notes.append("stored %s=%d is outside [%d, %d]: clamped to %d"
                         % (name, v, f[2], f[3], c))
    return notes


def _order(low, high, low_name, high_name):
    if not low < high:
        raise ConfigError("%s (%d) must be below %s (%d)" % (low_name, low, high_name, high))


def _validate_one(name, value):
    f = field(name)
    if f is None:
        raise ConfigError("unknown setting '%s'" % name)
    if not is_int(value):
        raise ConfigError("%s must be an integer, got %r" % (name, value))
    if value < f[2] or value > f[3]:
        raise ConfigError("%s=%d is outside [%d, %d]" % (name, value, f[2], f[3]))


# Hardware parameter file entries the firmware takes (the rest is for the simulator).
_HW_KEYS = (
    "frame.loading_angle_mdeg frame.home_switch_mdeg frame.soft_max_mdeg frame.overtravel_mdeg"
    " drive.motor_steps_per_rev drive.microsteps drive.gear_ratio drive.backlash_mdeg"
    " imu.axis imu.sign"
)
_AXES = ("x", "y", "z")
# imu.part: the driver firmware/board_esp32.py runs (mpu6050 covers the MPU-6500 family).
IMU_PARTS = ("mpu6050", "icm42688")


def hardware_values(params):
    """Pick the firmware's numbers out of a parsed table_params.json; ConfigError if absent."""
    out = {}
    for item in _HW_KEYS.split():
        section, key = item.split(".")
        try:
            value = params[section][key][0]
        except (KeyError, IndexError, TypeError):
            raise ConfigError("hardware parameters: missing %s.%s" % (section, key))
        if section == "imu":
            key = "imu_" + key
            if key == "imu_axis":
                if value not in _AXES:
                    raise ConfigError("hardware parameters: imu.axis must be x, y or z")
                value = _AXES.index(value)
        out[key] = value
    imu = params.get("imu")
    part = imu.get("part", ("mpu6050",))[0] if type(imu) is dict else "mpu6050"
    if part not in IMU_PARTS:
        raise ConfigError("hardware parameters: imu.part must be one of %s, not %r"
                          % (", ".join(IMU_PARTS), part))
    return out


def load_hardware(cfg, path):
    """Read the hardware parameter file into cfg (all or nothing)."""
    import json

    try:
        with open(path) as f:
            params = json.load(f)
    except OSError as e:
        raise ConfigError("hardware parameters: cannot read %s (%s)" % (path, e))
    except ValueError as e:
        raise ConfigError("hardware parameters: %s is not valid JSON (%s)" % (path, e))
    cfg.update(hardware_values(params))
    return params
