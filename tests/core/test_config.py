"""Configuration: bounds, cross-field rules, all-or-nothing updates."""

from config import Config, ConfigError
from support import make_config, raises


def test_defaults_are_valid_and_beginner_limits():
    cfg = make_config()
    assert cfg.soft_max_mdeg == 65000
    assert cfg.loading_angle_mdeg == -60000
    assert cfg.jog_speed_mdeg_s < cfg.normal_speed_mdeg_s <= cfg.emergency_speed_mdeg_s


def test_out_of_range_value_is_refused_and_changes_nothing():
    cfg = Config()
    before = cfg.as_dict()
    e = raises(ConfigError, cfg.set, "normal_speed_mdeg_s", 999999)
    assert "outside" in str(e)
    assert cfg.as_dict() == before


def test_non_integer_values_are_refused():
    cfg = Config()
    before = cfg.normal_speed_mdeg_s
    for bad in (1.5, "3000", True, None, float("nan")):
        raises(ConfigError, cfg.set, "normal_speed_mdeg_s", bad)
    assert cfg.normal_speed_mdeg_s == before


def test_unknown_setting_is_refused():
    raises(ConfigError, Config().set, "warp_speed", 1)


def test_cross_field_rule_rolls_back_the_whole_update():
    cfg = Config()
    before = cfg.as_dict()
    # jog faster than normal speed breaks a rule; the valid first value must not stick either
    e = raises(ConfigError, cfg.update, {"rest_pause_ms": 5000, "jog_speed_mdeg_s": 4000,
                                         "normal_speed_mdeg_s": 3000})
    assert "jog" in str(e)
    assert cfg.as_dict() == before


def test_soft_max_must_stay_below_overtravel():
    cfg = Config()
    e = raises(ConfigError, cfg.set, "soft_max_mdeg", 70000)
    assert "over-travel" in str(e)
