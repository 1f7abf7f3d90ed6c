"""The typed configuration of each command, parsed once at the door from the composed config."""
