"""Pure domain rules: no I/O, no ORM, no clock. See README.md beside this file."""
