# A Qpid Proton (Python) client for the router tests: the reference AMQP 1.0
# implementation, so that the router is checked against a client it did not
# grow up with. One line per event on stdout, read by test/helpers/proton-clients.ts:
#   receive PORT ADDRESS COUNT PREFETCH  -> "ready", then "got BODY" per message (accepted)
#   send PORT ADDRESS COUNT PREFIX       -> "credit N" when credit first arrives,
#                                           "outcome BODY accepted|released|modified|rejected" per message
# It stops after COUNT messages/outcomes, or after the timeout (exit 3), so
# that a message without an outcome shows as a missing line, never a hang.
import sys
from proton import Delivery, Message
from proton.handlers import MessagingHandler
from proton.reactor import Container

TIMEOUT_S = float(sys.argv[6]) if len(sys.argv) > 6 else 30.0


def say(line):
    print(line, flush=True)


class Receive(MessagingHandler):
    def __init__(self, url, address, count, prefetch):
        super().__init__(prefetch=prefetch)
        self.url, self.address, self.count, self.got = url, address, count, 0

    def on_start(self, event):
        self.timer = event.container.schedule(TIMEOUT_S, self)
        event.container.create_receiver(event.container.connect(self.url), self.address)

    def on_link_opened(self, event):
        if event.receiver:
            say("ready")

    def on_message(self, event):
        say("got %s" % event.message.body)
        self.got += 1
        if self.got == self.count:
            self.timer.cancel()
            event.connection.close()

    def on_timer_task(self, event):
        say("timeout")
        sys.exit(3)


class Send(MessagingHandler):
    def __init__(self, url, address, count, prefix):
        super().__init__(auto_settle=True)
        self.url, self.address, self.count, self.prefix = url, address, count, prefix
        self.sent = self.settled = 0
        self.bodies = {}
        self.saw_credit = False

    def on_start(self, event):
        self.timer = event.container.schedule(TIMEOUT_S, self)
        event.container.create_sender(event.container.connect(self.url), self.address)

    def on_sendable(self, event):
        if not self.saw_credit:
            self.saw_credit = True
            say("credit %d" % event.sender.credit)
        while event.sender.credit > 0 and self.sent < self.count:
            body = "%s %d" % (self.prefix, self.sent)
            self.bodies[event.sender.send(Message(body=body))] = body
            self.sent += 1

    def outcome(self, event, name):
        say("outcome %s %s" % (self.bodies.pop(event.delivery, "?"), name))
        self.settled += 1
        if self.settled == self.count:
            self.timer.cancel()
            event.connection.close()

    def on_accepted(self, event):
        self.outcome(event, "accepted")

    def on_rejected(self, event):
        self.outcome(event, "rejected")

    def on_released(self, event):
        # Proton reports modified as released; tell them apart.
        self.outcome(event, "modified" if event.delivery.remote_state == Delivery.MODIFIED else "released")

    def on_timer_task(self, event):
        say("timeout")
        sys.exit(3)


mode, port, address, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
url = "127.0.0.1:%d" % port
if mode == "receive":
    Container(Receive(url, address, count, int(sys.argv[5]))).run()
else:
    Container(Send(url, address, count, sys.argv[5])).run()
