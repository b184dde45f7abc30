# ptydrive.py ROWS COLS CMD... < STEPS: see pty_run in helpers.bash.
import fcntl, os, pty, re, select, signal, struct, sys, termios, time
rows, cols = int(sys.argv[1]), int(sys.argv[2])
steps = sys.stdin.read().splitlines()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[3], sys.argv[3:])
def setsize(r, c):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", r, c, 0, 0))
setsize(rows, cols)
buf, seen = b"", 0
def read_some(timeout):
    global buf
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return True
    try:
        d = os.read(fd, 65536)
    except OSError:
        return False
    buf += d
    return bool(d)
def die(msg):
    sys.stdout.write(buf.decode(errors="replace"))
    sys.stdout.write("\nptydrive: %s\n" % msg)
    os.kill(pid, signal.SIGKILL)
    sys.exit(99)
for st in steps:
    op, _, arg = st.partition(" ")
    if op == "send":
        os.write(fd, arg.encode().decode("unicode_escape").encode("latin-1"))
    elif op == "expect":
        rx, end = re.compile(arg.encode()), time.time() + 20
        while True:
            m = rx.search(buf, seen)
            if m:
                seen = m.end()
                break
            if time.time() > end:
                die("timeout waiting for /%s/" % arg)
            if not read_some(0.2):
                die("end of output waiting for /%s/" % arg)
    elif op == "winsize":
        r, c = arg.split()
        setsize(int(r), int(c))
        os.kill(pid, signal.SIGWINCH)
    elif op == "sleep":
        time.sleep(float(arg))
    elif op:
        die("bad step " + st)
end = time.time() + 30
while read_some(0.2):
    if time.time() > end:
        die("timeout waiting for the exit")
_, status = os.waitpid(pid, 0)
sys.stdout.write(buf.decode(errors="replace"))
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
