// A call to a function the object does not define: the blob cannot have it.
float expf(float);
float mcc_entry(float x) { return expf(x); }
