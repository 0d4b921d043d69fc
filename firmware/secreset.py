"""The physical reset of the security state, done only at the table (issue #21).

What it does: forgets the PIN, the lock state (child lock, failures, lockout) and the
setup marks (auth.Auth.physical_reset: the table is new again, the next `pin set`
sets the first PIN), and returns the profiles to one beginner profile without consent
(profiles.default_profile), so nothing a former therapist allowed survives it.
Calibration and the other settings stay. firmware/powerup.py calls it when its button
combination was held at power-up; nothing else may.
Runs at boot only: it may allocate.
"""

import profiles
import store
from auth import Auth


def reset_security(fs, cfg, nvs=None):
    """Do the reset; store.OK, or store.WRITE_FAILED if a write failed (then the
    table may still be locked down at the next boot: do it again)."""
    a = Auth(fs, nvs)
    status = a.physical_reset()
    s2 = profiles.save_profiles(fs, [profiles.default_profile("default", cfg)])
    return status if status != store.OK else s2
