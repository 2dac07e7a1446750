int pk_placeholder(void) { return 0; }
