"""The benchmark's smtplib sender: Python's own smtplib.SMTP.sendmail().

Takes PORT MESSAGE_FILE RECIPIENTS and prints one JSON line, like the Deno
senders: seconds from just before connecting to the reply to QUIT. The local host name is given, as the
helper's address literal, so smtplib does not look up this machine's name.
"""

import gc
import json
import re
import smtplib
import sys
import time

FROM = "sender@example.com"


def recipients(count):
    if count == 1:
        return ["reader@example.com"]
    return [f"reader{i + 1}@example.com" for i in range(count)]


def settle():
    """Once the input is made: collect garbage, reset the peak-RSS mark (as bench/senders.ts)."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as marks:
            marks.write("5")
        return True
    except OSError:
        return False


def peak_kib():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\s*(\d+)", status.read()).group(1))


def main():
    port, path, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    with open(path, newline="") as file:
        message = file.read()
    to = recipients(count)
    settled = settle()
    start = time.perf_counter()
    connection = smtplib.SMTP("127.0.0.1", port, local_hostname="[127.0.0.1]")
    connection.sendmail(FROM, to, message)
    connection.quit()
    seconds = time.perf_counter() - start
    figures = {"seconds": seconds}
    if settled:
        figures["peakKiB"] = peak_kib()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
