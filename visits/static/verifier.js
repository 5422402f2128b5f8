// 요있다 offline verifier: Base45 -> zlib inflate -> COSE_Sign1 -> Ed25519 (vendored noble-curves), all in
// this page. The page has no network access (its Content-Security-Policy allows no connection at all).
"use strict";
(function () {
  var CONFIG = JSON.parse(document.getElementById("yoitda-keys").textContent);
  var B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
  var MAX_COSE = 2048;
  var WEEKDAYS = "일월화수목금토";

  function Rejected(reason) { this.reason = reason; }

  function base45(text) {
    if (text.length % 3 === 1) { throw new Rejected("QR 내용이 손상되었습니다 (Base45 해독 실패)."); }
    var out = [];
    for (var i = 0; i < text.length; i += 3) {
      var chunk = text.slice(i, i + 3).split("").map(function (c) {
        var v = B45.indexOf(c);
        if (v < 0) { throw new Rejected("QR 내용이 손상되었습니다 (Base45 해독 실패)."); }
        return v;
      });
      if (chunk.length === 3) {
        var n = chunk[0] + chunk[1] * 45 + chunk[2] * 2025;
        if (n > 0xffff) { throw new Rejected("QR 내용이 손상되었습니다 (Base45 해독 실패)."); }
        out.push(n >> 8, n & 0xff);
      } else {
        var m = chunk[0] + chunk[1] * 45;
        if (m > 0xff) { throw new Rejected("QR 내용이 손상되었습니다 (Base45 해독 실패)."); }
        out.push(m);
      }
    }
    return new Uint8Array(out);
  }

  async function inflate(bytes) {
    var broken = new Rejected("QR 내용이 손상되었습니다 (압축을 풀 수 없음: 내용이 바뀌었거나 잘렸습니다).");
    if (typeof DecompressionStream === "undefined") {
      throw new Rejected("이 브라우저는 압축 해제(DecompressionStream)를 지원하지 않습니다. 최신 Chrome, Edge, Firefox, Safari를 쓰세요.");
    }
    var reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate")).getReader();
    var parts = [], total = 0;
    try {
      for (;;) {
        var step = await reader.read();
        if (step.done) { break; }
        total += step.value.length;
        if (total > MAX_COSE) { throw broken; }
        parts.push(step.value);
      }
    } catch (e) { throw broken; }
    var out = new Uint8Array(total), at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }

  // A strict CBOR reader: definite lengths, integers, byte and text strings, arrays, maps, tag 18 outside.
  function cbor(bytes) {
    var pos = 0;
    var bad = function (why) { return new Rejected("증빙 형식이 올바르지 않습니다 (" + why + ")."); };
    function need(n) { if (pos + n > bytes.length) { throw bad("잘린 CBOR"); } }
    function arg(info) {
      if (info < 24) { return info; }
      var size = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
      if (!size) { throw bad("지원하지 않는 CBOR 길이"); }
      need(size);
      var v = 0;
      for (var i = 0; i < size; i++) { v = v * 256 + bytes[pos++]; }
      if (v > Number.MAX_SAFE_INTEGER) { throw bad("너무 큰 수"); }
      return v;
    }
    function item(depth) {
      if (depth > 5) { throw bad("너무 깊은 CBOR"); }
      need(1);
      var head = bytes[pos++], major = head >> 5, info = head & 31, n, i, out;
      if (major === 7) {
        if (info === 20) { return false; }
        if (info === 21) { return true; }
        if (info === 22) { return null; }
        throw bad("지원하지 않는 CBOR 값");
      }
      n = arg(info);
      switch (major) {
        case 0: return n;
        case 1: return -1 - n;
        case 2: need(n); out = bytes.slice(pos, pos + n); pos += n; return out;
        case 3:
          need(n);
          try { out = new TextDecoder("utf-8", { fatal: true }).decode(bytes.slice(pos, pos + n)); }
          catch (e) { throw bad("UTF-8이 아닌 글자"); }
          pos += n; return out;
        case 4: out = []; for (i = 0; i < n; i++) { out.push(item(depth + 1)); } return out;
        case 5:
          out = new Map();
          for (i = 0; i < n; i++) {
            var key = item(depth + 1);
            if (typeof key !== "number" && typeof key !== "string") { throw bad("맵 키"); }
            if (out.has(key)) { throw bad("중복된 맵 키"); }
            out.set(key, item(depth + 1));
          }
          return out;
        case 6:
          if (depth !== 0 || n !== 18) { throw bad("예상하지 못한 CBOR 태그"); }
          return item(depth + 1);
      }
      throw bad("CBOR");
    }
    var value = item(0);
    if (pos !== bytes.length) { throw bad("CBOR 뒤에 남는 바이트"); }
    return value;
  }

  function head(major, n) {
    if (n < 24) { return [major << 5 | n]; }
    if (n < 256) { return [major << 5 | 24, n]; }
    return [major << 5 | 25, n >> 8, n & 0xff];
  }

  function sigStructure(protectedBytes, payload) {
    var label = new TextEncoder().encode("Signature1");
    var parts = [[0x84], head(3, label.length), Array.from(label), head(2, protectedBytes.length),
                 Array.from(protectedBytes), [0x40], head(2, payload.length), Array.from(payload)];
    return new Uint8Array([].concat.apply([], parts));
  }

  function hex(bytes) { return Array.from(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join(""); }
  function unb64(text) {
    var s = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    return Uint8Array.from(s, function (c) { return c.charCodeAt(0); });
  }

  function koreanTime(ts, seconds) {
    var t = new Date((ts + 9 * 3600) * 1000);  // Korea has no daylight saving time
    var h = t.getUTCHours(), half = h < 12 ? "오전" : "오후", h12 = h % 12 || 12;
    var text = t.getUTCFullYear() + "년 " + (t.getUTCMonth() + 1) + "월 " + t.getUTCDate() + "일 (" +
      WEEKDAYS[t.getUTCDay()] + ") " + half + " " + h12 + "시 " + t.getUTCMinutes() + "분";
    return seconds === false ? text : text + " " + t.getUTCSeconds() + "초";
  }
  function metres(v) { return v < 10000 ? Math.round(v).toLocaleString("en-US") + " m" : (v / 1000).toFixed(1) + " km"; }
  function coords(lat, lon) {
    return (lat >= 0 ? "북위 " : "남위 ") + Math.abs(lat).toFixed(6) + "°, " + (lon >= 0 ? "동경 " : "서경 ") + Math.abs(lon).toFixed(6) + "°";
  }
  function distance(a, b) {
    var r = Math.PI / 180, dlat = (b[0] - a[0]) * r, dlon = (b[1] - a[1]) * r;
    var h = Math.pow(Math.sin(dlat / 2), 2) + Math.cos(a[0] * r) * Math.cos(b[0] * r) * Math.pow(Math.sin(dlon / 2), 2);
    return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
  }

  function claimOf(map) {
    var bad = function (why) { return new Rejected("증빙 형식이 올바르지 않습니다 (" + why + ")."); };
    if (!(map instanceof Map)) { throw bad("클레임이 맵이 아님"); }
    var known = [2, 6, 7, -1, -2, -3, -4, -5, -6, -7, -8, -9];
    map.forEach(function (_, k) { if (known.indexOf(k) < 0) { throw bad("알 수 없는 클레임 " + k); } });
    function int(k, lo, hi) { var v = map.get(k); if (!Number.isInteger(v) || v < lo || v > hi) { throw bad("클레임 " + k); } return v; }
    function text(k, optional) {
      var v = map.get(k);
      if (v === undefined && optional) { return ""; }
      if (typeof v !== "string" || v.length > 200) { throw bad("클레임 " + k); }
      return v;
    }
    var nonce = map.get(7);
    if (!(nonce instanceof Uint8Array) || nonce.length < 8 || nonce.length > 32) { throw bad("nonce"); }
    var c = { sub: text(2), iat: int(6, 0, Number.MAX_SAFE_INTEGER), name: text(-1), org: text(-2, true),
              lat: int(-3, -90e6, 90e6) / 1e6, lon: int(-4, -180e6, 180e6) / 1e6, acc: int(-5, 0, 100000),
              index: int(-6, 0, Number.MAX_SAFE_INTEGER) };
    if (map.has(-7)) {
      c.trip = int(-7, 1, Number.MAX_SAFE_INTEGER);
      if (map.has(-8)) {
        var d = map.get(-8);
        if (!Array.isArray(d) || d.length !== 2 || !d.every(Number.isInteger)) { throw bad("목적지"); }
        c.dest = [d[0] / 1e6, d[1] / 1e6];
      }
      if (map.has(-9)) { c.radius = int(-9, 1, 1000000); }
    } else if (map.has(-8) || map.has(-9)) { throw bad("출장 없는 목적지"); }
    return c;
  }

  function checkKey(kidHex, iat) {
    var key = CONFIG.keys.filter(function (k) { return k.kid === kidHex; })[0];
    if (!key) {
      throw new Rejected("알 수 없는 키(" + kidHex + ")로 서명되었습니다. 이 시스템이 발급한 증빙이 아니거나, 검증에 쓴 공개 키 목록이 오래되었습니다.");
    }
    if (key.revoked) { throw new Rejected("키 " + key.kid + "는 " + koreanTime(key.revoked, false) + "에 폐기되었습니다. 이 키로 서명된 증빙은 믿을 수 없습니다."); }
    if (iat < key.created) { throw new Rejected("발급 시각이 키 " + key.kid + "가 만들어진 " + koreanTime(key.created, false) + "보다 앞섭니다."); }
    if (key.retired && iat > key.retired) {
      throw new Rejected("키 " + key.kid + "는 " + koreanTime(key.retired, false) + "에 교체되었는데, 증빙의 발급 시각은 그 뒤입니다. 교체된 키로는 새 증빙을 만들 수 없습니다.");
    }
    return key;
  }

  async function verify(text) {
    text = text.trim();
    if (text.length > 4000) { throw new Rejected("증빙 내용이 너무 깁니다. 요있다 증빙이 아닙니다."); }
    if (text.indexOf(CONFIG.prefix) !== 0) { throw new Rejected("요있다 증빙이 아닙니다 ('" + CONFIG.prefix + "'로 시작하지 않습니다)."); }
    var cose = await inflate(base45(text.slice(CONFIG.prefix.length)));
    var parts = cbor(cose);
    var bad = function (why) { return new Rejected("증빙 형식이 올바르지 않습니다 (" + why + ")."); };
    if (!Array.isArray(parts) || parts.length !== 4 || !(parts[0] instanceof Uint8Array) || !(parts[1] instanceof Map) ||
        !(parts[2] instanceof Uint8Array) || !(parts[3] instanceof Uint8Array)) { throw bad("COSE_Sign1 아님"); }
    var header = cbor(parts[0]);
    if (!(header instanceof Map) || header.get(1) !== -8) { throw bad("EdDSA 서명이 아님"); }
    if (parts[1].has(1) || parts[1].has(4)) { throw bad("보호되지 않은 헤더의 alg/kid"); }
    var kid = header.get(4);
    if (!(kid instanceof Uint8Array) || kid.length < 1 || kid.length > 16) { throw bad("키 id"); }
    if (parts[3].length !== 64) { throw bad("서명 길이"); }
    var claim = claimOf(cbor(parts[2]));
    var key = checkKey(hex(kid), claim.iat);
    var ok = false;
    try { ok = nobleCurves.ed25519.verify(parts[3], sigStructure(parts[0], parts[2]), unb64(key.public_key), { zip215: false }); }
    catch (e) { ok = false; }
    if (!ok) {
      throw new Rejected("서명이 맞지 않습니다: 발급 뒤에 내용이 바뀌었거나, 키 " + key.kid + "가 아닌 다른 키로 서명되었습니다. 이 증빙은 믿을 수 없습니다.");
    }
    if (claim.iat > Date.now() / 1000 + CONFIG.skew) {
      throw new Rejected("발급 시각이 미래입니다. 이 증빙은 믿을 수 없습니다 (검증하는 컴퓨터의 시계도 확인하세요).");
    }
    return { claim: claim, key: key };
  }

  function rows(c, key) {
    var out = [["공무원", c.name + " (" + c.sub + ")"], ["소속", c.org || "(기록 없음)"],
               ["시각", koreanTime(c.iat) + " (서버 시각, 한국 표준시)"], ["위치", coords(c.lat, c.lon)],
               ["정확도", "± " + metres(c.acc) + " (휴대전화가 알려 온 값)"]];
    if (c.trip !== undefined) {
      out.push(["출장", c.trip + "번"]);
      if (c.dest) {
        out.push(["목적지", coords(c.dest[0], c.dest[1])]);
        var d = distance([c.lat, c.lon], c.dest);
        var verdict = c.radius !== undefined ? " — 허용 반경 " + metres(c.radius) + " " + (d <= c.radius ? "이내" : "밖") : "";
        out.push(["목적지까지", metres(d) + verdict]);
      }
    } else { out.push(["출장", "지정 안 함"]); }
    out.push(["장부 번호", c.index + "번"]);
    var status = key.revoked ? "폐기됨" : key.retired ? "교체됨" : "사용 중";
    out.push(["서명 키", key.kid + " (" + status + ", " + koreanTime(key.created, false) + " 생성)"]);
    return out;
  }

  var result = document.getElementById("result");
  function show(ok, message, table) {
    result.textContent = "";
    result.setAttribute("data-result", ok ? "valid" : "invalid");
    var p = document.createElement("p");
    p.id = "verdict";
    p.className = ok ? "ok" : "bad";
    p.textContent = message;
    result.appendChild(p);
    if (table) {
      var dl = document.createElement("dl");
      dl.className = "summary";
      table.forEach(function (row) {
        var dt = document.createElement("dt"), dd = document.createElement("dd");
        dt.textContent = row[0]; dd.textContent = row[1];
        dl.appendChild(dt); dl.appendChild(dd);
      });
      result.appendChild(dl);
    }
  }

  async function run() {
    try {
      var found = await verify(document.getElementById("text").value);
      show(true, "유효한 증빙입니다: 서명이 맞습니다 (키 " + found.key.kid + ").", rows(found.claim, found.key));
    } catch (e) {
      show(false, "믿을 수 없는 증빙입니다: " + (e instanceof Rejected ? e.reason : "증빙을 읽을 수 없습니다."), null);
    }
  }

  document.getElementById("verify").addEventListener("click", run);
  var image = document.getElementById("image");
  if ("BarcodeDetector" in window) {
    document.getElementById("image-row").hidden = false;
    image.addEventListener("change", async function () {
      try {
        var codes = await new BarcodeDetector({ formats: ["qr_code"] }).detect(await createImageBitmap(image.files[0]));
        if (!codes.length) { show(false, "사진에서 QR 코드를 찾지 못했습니다.", null); return; }
        document.getElementById("text").value = codes[0].rawValue;
        run();
      } catch (e) { show(false, "사진을 읽지 못했습니다.", null); }
    });
  }
  document.body.setAttribute("data-ready", "1");
})();
