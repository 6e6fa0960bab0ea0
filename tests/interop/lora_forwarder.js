#!/usr/bin/env node
/*
 * tests/interop/lora_forwarder.js - simulated Semtech packet forwarders
 * (UDP protocol v2) for the LoRaWAN integration tests. Frames are built and
 * checked with the npm package lora-packet, an encoder independent of the
 * gateway's own.
 *
 *   node tests/interop/lora_forwarder.js HOST PORT     (the gateway's lora listen address)
 *
 * Every forwarder (by gateway EUI, 16 hex digits) has its own UDP socket on
 * 127.0.0.1. stdout carries one JSON object per line:
 *   {"event":"ready"}
 *   {"event":"ack","eui":E,"type":"push"|"pull","token":T}
 *   {"event":"sent","eui":E,"phy":HEX}
 *   {"event":"pull_resp","eui":E,"txpk":{...},"phy":HEX}     (a TX_ACK went back)
 *   {"event":"decoded","id":I,...}  {"event":"error","id":I,"error":S}
 * stdin takes one JSON command per line:
 *   {"cmd":"pull","eui":E}                          PULL_DATA (the gateway learns where to send)
 *   {"cmd":"uplink","eui":[E,...],"rssi":[R,...],"devaddr":H,"nwk":H,"app":H,"fcnt":N,
 *    "fport":P,"payload":H,"confirmed":B,"bad_mic":B,"fopts":H,"lsnr":[S,...]}
 *                                                   one frame heard by each E (SNR 7.5 unless lsnr)
 *   {"cmd":"join","eui":[E],"dev_eui":H,"join_eui":H,"app_key":H,"dev_nonce":H}
 *   {"cmd":"raw","eui":E,"hex":H}                   any datagram bytes
 *   {"cmd":"push_json","eui":E,"json":S}            a PUSH_DATA with this JSON text
 *   {"cmd":"tx_ack_error","error":S}                later TX_ACKs carry this error ("NONE": ok)
 *   {"id":I,"cmd":"decode_down","phy":H,"nwk":H,"app":H}
 *   {"id":I,"cmd":"decode_join_accept","phy":H,"app_key":H,"dev_nonce":H}
 * EOF on stdin or SIGTERM stops it.
 */
'use strict';

const dgram = require('dgram');
const readline = require('readline');
const lp = require('lora-packet').default || require('lora-packet');

const host = process.argv[2] || '127.0.0.1';
const port = parseInt(process.argv[3] || '1700', 10);
const fwds = new Map();
let txAckError = 'NONE';
let tmst = 1000000;

function out(o) {
    process.stdout.write(JSON.stringify(o) + '\n');
}

function hex(h) {
    return Buffer.from(h || '', 'hex');
}

function fwd(eui) {
    let f = fwds.get(eui);
    if (f)
        return f;
    const sock = dgram.createSocket('udp4');
    sock.bind(0, '127.0.0.1');
    sock.on('message', (msg) => onMessage(eui, sock, msg));
    f = {sock};
    fwds.set(eui, f);
    return f;
}

function header(id, eui) {
    const token = Buffer.from([Math.floor(Math.random() * 256), Math.floor(Math.random() * 256)]);
    return Buffer.concat([Buffer.from([2]), token, Buffer.from([id]), hex(eui)]);
}

function send(eui, buf) {
    fwd(eui).sock.send(buf, port, host);
}

function onMessage(eui, sock, msg) {
    if (msg.length < 4 || msg[0] !== 2)
        return out({event: 'bad', eui, hex: msg.toString('hex')});
    const token = msg.slice(1, 3).toString('hex');
    if (msg[3] === 1)
        return out({event: 'ack', eui, type: 'push', token});
    if (msg[3] === 4)
        return out({event: 'ack', eui, type: 'pull', token});
    if (msg[3] === 3) {
        const txpk = JSON.parse(msg.slice(4).toString()).txpk;
        const phy = Buffer.from(txpk.data, 'base64');
        const ack = Buffer.concat([Buffer.from([2]), msg.slice(1, 3), Buffer.from([5]), hex(eui),
                                   Buffer.from(JSON.stringify({txpk_ack: {error: txAckError}}))]);
        sock.send(ack, port, host);
        return out({event: 'pull_resp', eui, txpk, phy: phy.toString('hex')});
    }
    out({event: 'bad', eui, hex: msg.toString('hex')});
}

function push(eui, phy, rssi, lsnr) {
    tmst = (tmst + 1000) >>> 0;
    const rxpk = {tmst, chan: 0, rfch: 0, freq: 868.1, stat: 1, modu: 'LORA', datr: 'SF7BW125',
                  codr: '4/5', lsnr: lsnr === undefined ? 7.5 : lsnr, rssi, size: phy.length,
                  data: phy.toString('base64')};
    send(eui, Buffer.concat([header(0, eui), Buffer.from(JSON.stringify({rxpk: [rxpk]}))]));
    out({event: 'sent', eui, phy: phy.toString('hex')});
}

function uplink(c) {
    const fields = {MType: c.confirmed ? 'Confirmed Data Up' : 'Unconfirmed Data Up',
                    DevAddr: hex(c.devaddr), FCnt: c.fcnt, FCtrl: {}};
    if (c.fopts)
        fields.FOpts = hex(c.fopts);
    if (c.fport !== undefined && c.fport !== null) {
        fields.FPort = c.fport;
        fields.payload = hex(c.payload);
    }
    const pkt = lp.fromFields(fields, hex(c.app), hex(c.nwk));
    const phy = Buffer.from(pkt.getPHYPayload());
    if (c.bad_mic)
        phy[phy.length - 1] ^= 0xFF;
    const euis = [].concat(c.eui);
    euis.forEach((e, i) => push(e, phy, (c.rssi || [])[i] !== undefined ? c.rssi[i] : -50,
                                (c.lsnr || [])[i]));
}

function join(c) {
    const pkt = lp.fromFields({MType: 'Join Request', AppEUI: hex(c.join_eui), DevEUI: hex(c.dev_eui),
                               DevNonce: hex(c.dev_nonce)}, null, null, hex(c.app_key));
    const phy = Buffer.from(pkt.getPHYPayload());
    [].concat(c.eui).forEach((e) => push(e, phy, -60));
}

function command(c) {
    switch (c.cmd) {
    case 'pull':
        return send(c.eui, header(2, c.eui));
    case 'uplink':
        return uplink(c);
    case 'join':
        return join(c);
    case 'raw':
        return send(c.eui, hex(c.hex));
    case 'push_json':
        return send(c.eui, Buffer.concat([header(0, c.eui), Buffer.from(c.json)]));
    case 'tx_ack_error':
        txAckError = c.error;
        return;
    case 'decode_down': {
        const p = lp.fromWire(hex(c.phy));
        const ok = lp.verifyMIC(p, hex(c.nwk));
        const fport = p.getFPort();
        const payload = fport === null ? '' : lp.decrypt(p, hex(c.app), hex(c.nwk)).toString('hex');
        return out({event: 'decoded', id: c.id, mic_ok: ok, mtype: p.getMType(), fcnt: p.getFCnt(),
                    fport, payload, ack: p.getFCtrlACK(), fopts: p.FOpts ? p.FOpts.toString('hex') : '',
                    devaddr: p.DevAddr.toString('hex')});
    }
    case 'decode_join_accept': {
        const key = hex(c.app_key);
        const clear = lp.fromWire(lp.decryptJoinAccept(lp.fromWire(hex(c.phy)), key));
        const ok = lp.verifyMIC(clear, null, key);
        const keys = lp.generateSessionKeys(key, clear.NetID, clear.AppNonce, hex(c.dev_nonce));
        return out({event: 'decoded', id: c.id, mic_ok: ok, devaddr: clear.DevAddr.toString('hex'),
                    nwk: keys.NwkSKey.toString('hex'), app: keys.AppSKey.toString('hex'),
                    rx_delay: clear.RxDelay.readUInt8(0)});
    }
    default:
        throw new Error('unknown command ' + c.cmd);
    }
}

const rl = readline.createInterface({input: process.stdin});
rl.on('line', (line) => {
    let c = {};
    try {
        c = JSON.parse(line);
        command(c);
    } catch (e) {
        out({event: 'error', id: c.id, error: String(e && e.stack || e)});
    }
});
rl.on('close', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
out({event: 'ready'});
