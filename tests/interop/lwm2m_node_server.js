#!/usr/bin/env node
/*
 * tests/interop/lwm2m_node_server.js - an independent LwM2M server for the
 * integration tests: Telefonica's lwm2m-node-lib (npm), in-memory registry,
 * bound to 127.0.0.1 only.
 *
 *   node tests/interop/lwm2m_node_server.js PORT      (0: the kernel picks)
 *
 * stdout carries one JSON object per line, so a test waits on events
 * instead of sleeping:
 *   {"event":"listening","port":P}
 *   {"event":"register","ep":E,"lifetime":N,"lwm2m":V,"binding":B,"payload":L,"links":[[uri,{attr:value}],...]}
 *   {"event":"update","ep":E,"payload":L}
 *   {"event":"deregister","ep":E}
 *   {"event":"expired","ep":E}                           (lifetime ran out)
 *   {"event":"result","id":I,"op":O,"ok":true,"value":S}   or "ok":false,"error":S,"code":C
 *   {"event":"notify","id":I,"ep":E,"path":P,"value":S}    (id of the observe command)
 * stdin takes one JSON command per line:
 *   {"id":I,"op":"read","ep":E,"path":"/3303/0/5700"}
 *   {"id":I,"op":"write","ep":E,"path":"/3308/0/5900","value":"21.5"}
 *   {"id":I,"op":"observe","ep":E,"path":"/3303/0/5700"}
 *   {"id":I,"op":"cancel","ep":E,"path":"/3303/0/5700"}
 *   {"id":I,"op":"discover","ep":E,"path":"/3303/0"}
 *   {"id":I,"op":"list"}
 * The library's own log goes to stderr. EOF on stdin, SIGTERM or SIGINT
 * stop the server.
 */
'use strict';

const path = require('path');
const readline = require('readline');
const { createRequire } = require('module');

const libRequire = createRequire(require.resolve('lwm2m-node-lib'));
const lwm2m = require('lwm2m-node-lib').server;
const coap = libRequire('coap');
const logger = libRequire('logops');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`usage: ${path.basename(process.argv[1])} PORT (0 to 65535)\n`);
    process.exit(2);
}

// The library logs to stdout by default; stdout is the event channel.
logger.setStream(process.stderr);

// lwm2m-node-lib listens on every address; the tests must stay on loopback.
const listen = coap.createServer().constructor.prototype.listen;
coap.createServer().constructor.prototype.listen = function (p, address, done) {
    if (typeof address === 'function' || address === undefined)
        return listen.call(this, p, '127.0.0.1', typeof address === 'function' ? address : done);
    return listen.call(this, p, address, done);
};

function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

/* RFC 6690 link-format, enough for a Register payload: links split on
 * commas outside quotes and angle brackets, attributes on semicolons. */
function parseLinks(text) {
    const links = [];
    let i = 0;
    while (i < text.length) {
        while (text[i] === ' ' || text[i] === ',')
            i++;
        if (i >= text.length)
            break;
        if (text[i] !== '<')
            return null;
        const end = text.indexOf('>', i);
        if (end < 0)
            return null;
        const uri = text.slice(i + 1, end);
        const attrs = {};
        i = end + 1;
        while (text[i] === ';') {
            i++;
            let j = i, quoted = false;
            while (j < text.length && (quoted || (text[j] !== ';' && text[j] !== ','))) {
                if (text[j] === '"')
                    quoted = !quoted;
                j++;
            }
            const part = text.slice(i, j);
            const eq = part.indexOf('=');
            if (eq < 0)
                attrs[part] = true;
            else
                attrs[part.slice(0, eq)] = part.slice(eq + 1).replace(/^"(.*)"$/, '$1');
            i = j;
        }
        links.push([uri, attrs]);
    }
    return links;
}

const config = {
    port: port,
    serverProtocol: 'udp4',
    lifetimeCheckInterval: 1000,
    deviceRegistry: { type: 'memory' },
    // Without a type for /rd the library answers every Register 4.04.
    defaultType: 'Device',
    logLevel: 'ERROR',
    // The library defaults to the pre-1.0 draft text format (1541); plain
    // text (0) is what LwM2M 1.x clients write and read single values in.
    formats: [{ name: 'text/plain', value: 0 }],
    writeFormat: 'text/plain',
    defaultAcceptFormat: 'text/plain',
};

function registrationHandler(endpoint, lifetime, version, binding, payload, callback) {
    emit({ event: 'register', ep: endpoint, lifetime: Number(lifetime), lwm2m: version,
           binding: binding, payload: payload, links: parseLinks(payload) });
    callback();
}

function updateHandler(device, payload, callback) {
    emit({ event: 'update', ep: device.name, payload: payload || '' });
    callback();
}

function unregistrationHandler(device, callback) {
    emit({ event: 'deregister', ep: device.name });
    callback();
}

function splitPath(p) {
    const parts = String(p || '').split('/').filter((s) => s.length);
    if (parts.length < 1 || parts.length > 3 || !parts.every((s) => /^\d+$/.test(s)))
        return null;
    return parts;
}

function fail(cmd, err) {
    emit({ event: 'result', id: cmd.id, op: cmd.op, ok: false,
           error: err && (err.message || err.name) || String(err),
           code: err && err.code !== undefined ? String(err.code) : null });
}

function run(cmd) {
    if (cmd.op === 'list') {
        lwm2m.listDevices((err, devices) => err ? fail(cmd, err)
            : emit({ event: 'result', id: cmd.id, op: cmd.op, ok: true,
                     value: devices.map((d) => d.name) }));
        return;
    }
    const parts = splitPath(cmd.path);
    if (!parts)
        return fail(cmd, new Error(`bad path ${JSON.stringify(cmd.path)}, expected /o[/i[/r]]`));
    lwm2m.getDevice(cmd.ep, (err, device) => {
        if (err || !device)
            return fail(cmd, err || new Error(`no device ${cmd.ep}`));
        const done = (e, value) => e ? fail(cmd, e)
            : emit({ event: 'result', id: cmd.id, op: cmd.op, ok: true,
                     value: value === undefined ? null : value });
        const [o, i, r] = parts;
        const needResource = () => {
            if (parts.length !== 3) {
                fail(cmd, new Error(`${cmd.op} needs a resource path /o/i/r`));
                return false;
            }
            return true;
        };
        switch (cmd.op) {
        case 'read':
            if (needResource())
                lwm2m.read(device.id, o, i, r, done);
            break;
        case 'write':
            if (needResource())
                lwm2m.write(device.id, o, i, r, String(cmd.value), done);
            break;
        case 'observe':
            if (needResource())
                lwm2m.observe(device.id, o, i, r, (value) => {
                    emit({ event: 'notify', id: cmd.id, ep: cmd.ep, path: cmd.path, value: value });
                }, done);
            break;
        case 'cancel':
            if (needResource())
                lwm2m.cancelObserver(device.id, o, i, r, done);
            break;
        case 'discover':
            if (parts.length === 3)
                lwm2m.discover(device.id, o, i, r, done);
            else if (parts.length === 2)
                lwm2m.discover(device.id, o, i, done);
            else
                lwm2m.discover(device.id, o, done);
            break;
        default:
            fail(cmd, new Error(`unknown op ${JSON.stringify(cmd.op)}`));
        }
    });
}

lwm2m.start(config, (err, serverInfo) => {
    if (err) {
        process.stderr.write(`cannot start the LwM2M server: ${err.message || err}\n`);
        process.exit(1);
    }
    lwm2m.setHandler(serverInfo, 'registration', registrationHandler);
    lwm2m.setHandler(serverInfo, 'updateRegistration', updateHandler);
    lwm2m.setHandler(serverInfo, 'unregistration', unregistrationHandler);
    // setHandler restarts the lifetime check with an undefined interval (a
    // 1 ms busy timer); run it once a second, reporting expiries apart.
    lwm2m.getRegistry().checkLifetime(config.lifetimeCheckInterval, (device, callback) => {
        emit({ event: 'expired', ep: device.name });
        callback();
    });
    // The library sends its requests through its own port (it proxies them
    // to the client), so with port 0 it must learn the port it got.
    config.port = serverInfo.server._sock.address().port;
    emit({ event: 'listening', port: config.port });

    let stopping = false;
    const stop = () => {
        if (stopping)
            return;
        stopping = true;
        lwm2m.stop(serverInfo, () => process.exit(0));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    const rl = readline.createInterface({ input: process.stdin });
    rl.on('line', (line) => {
        if (!line.trim())
            return;
        let cmd;
        try {
            cmd = JSON.parse(line);
        } catch (e) {
            return emit({ event: 'result', id: null, ok: false, error: `not JSON: ${e.message}` });
        }
        try {
            run(cmd);
        } catch (e) {
            fail(cmd, e);
        }
    });
    rl.on('close', stop);
});
