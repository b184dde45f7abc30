// den-init: the tiny init for --init (being written).
int main() { return 0; }
