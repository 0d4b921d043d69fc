"""The hardware parameter file (hardware/table_params.json) as a plain object, for every host tool.

The file is the single source of the table's mechanical, drive and IMU numbers; each entry
is a [value, unit, why] triple. Host code reads a value as `p.physics.user_mass_kg` (or
`p["physics"]["user_mass_kg"]`), its unit as `p.physics.unit("user_mass_kg")` and its reason
as `p.physics.why("user_mass_kg")`. Nothing here knows any of the numbers themselves.

    from host_tools import params
    p = params.load()              # hardware/table_params.json
    p = params.load(other_path)    # a variant file (tests, what-if studies)
"""

import json

from host_tools import paths


class ParamsError(ValueError):
    pass


class Section:
    """One section of the file ("frame", "drive", "imu", "physics"): values by attribute."""

    def __init__(self, name, entries):
        self._name = name
        self._entries = entries

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._entries[key][0]
        except KeyError:
            raise AttributeError("table_params.json has no %s.%s" % (self._name, key)) from None

    def __getitem__(self, key):
        try:
            return self._entries[key][0]
        except KeyError:
            raise KeyError("table_params.json has no %s.%s" % (self._name, key)) from None

    def __contains__(self, key):
        return key in self._entries

    def get(self, key, default=None):
        """The value, or default for an entry the file does not have."""
        entry = self._entries.get(key)
        return default if entry is None else entry[0]

    def unit(self, key):
        return self._entries[key][1]

    def why(self, key):
        return self._entries[key][2]

    def keys(self):
        return list(self._entries)

    def __repr__(self):
        return "Section(%r, %d entries)" % (self._name, len(self._entries))


class Params:
    """All sections of the file; `raw` is the parsed JSON exactly as read."""

    def __init__(self, raw, path=None):
        self.raw = raw
        self.path = path
        self._sections = {}
        for name, entries in raw.items():
            if name.startswith("_"):
                continue  # "_about" and other comments
            if not isinstance(entries, dict):
                raise ParamsError("%s: section %r is not an object" % (path, name))
            for key, entry in entries.items():
                if not (isinstance(entry, list) and len(entry) == 3):
                    raise ParamsError(
                        "%s: %s.%s is not a [value, unit, why] triple" % (path, name, key)
                    )
            self._sections[name] = Section(name, entries)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._sections[name]
        except KeyError:
            raise AttributeError("table_params.json has no section %r" % name) from None

    def __getitem__(self, name):
        return self._sections[name]

    def sections(self):
        return list(self._sections)


def load(path=None):
    """Read and check the parameter file (default hardware/table_params.json)."""
    if path is None:
        path = paths.TABLE_PARAMS
    with open(path) as f:
        raw = json.load(f)
    return Params(raw, path)
