"""Queue mode (binding "UQ"): the client registers with b=UQ and wakes the
server with an Update when new data arrives after it has been quiet."""

import configs
from harness import Gateway, TestServer


def test_queue_mode_registers_uq_and_updates_on_new_data(tmp):
    dev = ('{ endpoint = "q-dev"; adapter = "simulated"; binding = "UQ"; queue_time = 1;\n'
           '  simulate = ( { field = "temperature"; wave = "sawtooth"; min = 0.0; max = 10.0; '
           'period = 30.0; interval = 2.0; } ); }')
    with TestServer() as srv:
        with Gateway(tmp, configs.gateway([dev], lifetime=600), server=srv):
            reg = srv.wait_register("q-dev")
            assert reg["b"] == "UQ", reg
            assert srv.read("q-dev", "/1/0/7")["payload_text"] == "UQ"
            # quiet for more than queue_time, then a reading: an Update wakes the server
            # (lifetime 600 s: no Update would be due for minutes otherwise)
            upd = srv.wait_update("q-dev", timeout=10)
            assert upd["ts"] - reg["ts"] < 60
            srv.wait_update("q-dev", timeout=10)


def test_plain_binding_stays_u(tmp):
    with TestServer() as srv:
        with Gateway(tmp, configs.gateway([configs.device("u-dev")]), server=srv):
            assert srv.wait_register("u-dev")["b"] == "U"
