"""The physical reset of the security state, done only at the table (issue #21).

What it does: forgets the PIN, the lock state (child lock, failures, lockout) and the
setup marks (auth.Auth.physical_reset: the table is new again, the next `pin set`
sets the first PIN), and returns the profiles to one beginner profile without consent
(profiles.default_profile), so nothing a former therapist allowed survives it.
Calibration and the other settings stay. On a table never set up (no setup mark: no
PIN or lock state was ever stored, and none is damaged) there is nothing to forget -
no limit can be raised without a PIN - so the profiles stay: the combination is then
only the way to the first PIN (issue #23: the boot after it takes `pin set <new>`,
firmware/auth.py). firmware/powerup.py calls it when its button combination was held
at power-up; nothing else may.
Runs at boot only: it may allocate.
"""

import profiles
import store
from auth import Auth


def reset_security(fs, cfg, nvs=None):
    """Do the reset; store.OK, or store.WRITE_FAILED if a write failed (then the
    table may still be locked down at the next boot: do it again)."""
    a = Auth(fs, nvs)
    never_set_up = a.marks.bits == 0 and not a.lockdown
    status = a.physical_reset()
    if never_set_up:
        return status
    s2 = profiles.save_profiles(fs, [profiles.default_profile("default", cfg)])
    return status if status != store.OK else s2
