"""The book's simple.py with one change: smtplib is given the local host
name ("[127.0.0.1]", as the Deno helper says) so that it does not look up
this machine's name (socket.getfqdn()), which could wait on DNS.

Usage: startup_smtplib.py server fromaddr toaddr [toaddr...]
"""

import smtplib
import sys

message_template = """To: {}
From: {}
Subject: Test Message from simple.py

Hello,

This is a test message sent to you from the simple.py program
in Foundations of Python Network Programming.
"""


def main():
    if len(sys.argv) < 4:
        name = sys.argv[0]
        print("usage: {} server fromaddr toaddr [toaddr...]".format(name))
        sys.exit(2)

    server, fromaddr, toaddrs = sys.argv[1], sys.argv[2], sys.argv[3:]
    message = message_template.format(", ".join(toaddrs), fromaddr)

    connection = smtplib.SMTP(server, local_hostname="[127.0.0.1]")
    connection.sendmail(fromaddr, toaddrs, message)
    connection.quit()

    s = "" if len(toaddrs) == 1 else "s"
    print("Message sent to {} recipient{}".format(len(toaddrs), s))


if __name__ == "__main__":
    main()
