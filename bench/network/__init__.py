"""Network conditions: profiles, pacing, and how cache archives move, shared by the package
mirror and the cache emulator (neither imports the other)."""
