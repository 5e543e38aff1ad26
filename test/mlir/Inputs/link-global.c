// Writable data: the runtime maps the blob read-only and executable.
int counter;
int mcc_entry(void) { return ++counter; }
