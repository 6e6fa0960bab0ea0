"""Config texts shared by the integration tests (libconfig syntax).

@SERVER_URI@ and @TMP@ are filled in by harness.Gateway."""


def device(ep, extra_resources="", manufacturer="Acme", model="T-100", serial="0001", firmware="1.0"):
    res = ('{ path = "/3303/0/5700"; value = 21.5; }, { path = "/3303/0/5701"; value = "Cel"; },'
           ' { path = "/3303/0/5601"; value = 20.0; }, { path = "/3303/0/5602"; value = 23.0; },'
           ' { path = "/3303/0/5750"; value = "boiler"; },'
           ' { path = "/3304/0/5700"; value = 45.0; }, { path = "/3304/0/5701"; value = "%RH"; }')
    if extra_resources:
        res += ", " + extra_resources
    return ('{ endpoint = "%s"; adapter = "static";\n'
            '  device = { manufacturer = "%s"; model = "%s"; serial = "%s"; firmware = "%s"; };\n'
            '  resources = ( %s ); }' % (ep, manufacturer, model, serial, firmware, res))


def gateway(devices, name="test-gw", lifetime=60, rps=0, security="", server="@SERVER_URI@"):
    return ('gateway = { name = "%s"; state_dir = "@TMP@"; };\n'
            'servers = ( { uri = "%s"; lifetime = %d; registrations_per_second = %d; %s } );\n'
            'devices = ( %s );\n' % (name, server, lifetime, rps, security, ",\n".join(devices)))
