"""hot-restart, from jurigged-rs."""
