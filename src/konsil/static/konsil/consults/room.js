// The embedded two-party video room: WebRTC between the patient's side and the specialist, signalling relayed
// by Konsil (POST a message, poll for the other side's). The patient's side makes the offer.
(function () {
  "use strict";
  var configNode = document.getElementById("room-config");
  if (!configNode) return;
  var config = JSON.parse(configNode.textContent);
  var status = document.getElementById("room-status");
  var localVideo = document.getElementById("local-video");
  var remoteVideo = document.getElementById("remote-video");
  var isOfferer = config.party === "patient";
  var cursor = 0, pc = null, stream = null, pending = [], stopped = false, polling = null;

  function say(key) { status.textContent = status.dataset[key] || key; }
  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  async function send(kind, payload) {
    // A lost signal stalls the call: retry what the server did not take (a busy database answers 503).
    for (var attempt = 0; attempt < 6; attempt++) {
      try {
        var response = await fetch(config.signals, {
          method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()},
          body: JSON.stringify({kind: kind, payload: payload || {}})
        });
        if (response.ok || (response.status >= 400 && response.status < 500)) return response;
      } catch (e) { /* network: retry */ }
      await new Promise(function (resolve) { setTimeout(resolve, 300 * (attempt + 1)); });
    }
  }
  function newPeer() {
    if (pc) { pc.close(); }
    pending = [];
    pc = new RTCPeerConnection({iceServers: config.iceServers || []});
    window.konsilRoom = {get pc() { return pc; }};
    stream.getTracks().forEach(function (track) { pc.addTrack(track, stream); });
    pc.onicecandidate = function (event) {
      if (event.candidate) send("candidate", {candidate: event.candidate.toJSON()});
    };
    pc.ontrack = function (event) {
      if (remoteVideo.srcObject !== event.streams[0]) remoteVideo.srcObject = event.streams[0];
    };
    pc.onconnectionstatechange = function () {
      if (pc.connectionState === "connected") say("connected");
      if (pc.connectionState === "failed") say("failed");
    };
    return pc;
  }
  async function offer() {
    newPeer();
    var description = await pc.createOffer();
    await pc.setLocalDescription(description);
    await send("offer", {sdp: pc.localDescription.toJSON()});
  }
  async function flushCandidates() {
    while (pending.length) { await pc.addIceCandidate(pending.shift()); }
  }
  async function handle(signal) {
    var p = signal.payload || {};
    if (signal.kind === "hello") {
      if (isOfferer) await offer(); else await send("hello", {});
    } else if (signal.kind === "offer" && !isOfferer) {
      newPeer();
      await pc.setRemoteDescription(p.sdp);
      await flushCandidates();
      var answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      await send("answer", {sdp: pc.localDescription.toJSON()});
    } else if (signal.kind === "answer" && isOfferer && pc) {
      await pc.setRemoteDescription(p.sdp);
      await flushCandidates();
    } else if (signal.kind === "candidate" && pc && p.candidate) {
      if (pc.remoteDescription) await pc.addIceCandidate(p.candidate); else pending.push(p.candidate);
    } else if (signal.kind === "bye") {
      remoteVideo.srcObject = null;
      if (pc) { pc.close(); pc = null; }
      say("left");
    }
  }
  async function poll() {
    if (stopped) return;
    try {
      var response = await fetch(config.signals + "?after=" + cursor, {credentials: "same-origin"});
      if (response.ok) {
        var body = await response.json();
        for (var i = 0; i < body.signals.length; i++) {
          cursor = Math.max(cursor, body.signals[i].id);
          await handle(body.signals[i]);
        }
      } else if (response.status === 409 || response.status === 403 || response.status === 404) {
        stopped = true; say("failed"); return;
      }
    } catch (e) { /* a dropped poll is retried */ }
    polling = setTimeout(poll, 1000);
  }
  async function start() {
    try {
      stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
    } catch (e) { say("nomedia"); return; }
    localVideo.srcObject = stream;
    say("waiting");
    var tail = await fetch(config.signals + "?after=0&tail=1", {credentials: "same-origin"});
    if (tail.ok) { cursor = (await tail.json()).last || 0; }
    newPeer();
    await send("hello", {});
    poll();
  }
  function toggle(button, kind) {
    var tracks = kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks();
    var off = button.getAttribute("aria-pressed") !== "true";
    tracks.forEach(function (t) { t.enabled = !off; });
    button.setAttribute("aria-pressed", off ? "true" : "false");
    button.textContent = off ? button.dataset.off : button.dataset.on;
  }
  document.getElementById("toggle-mic").addEventListener("click", function () { if (stream) toggle(this, "audio"); });
  document.getElementById("toggle-cam").addEventListener("click", function () { if (stream) toggle(this, "video"); });
  document.getElementById("leave-room").addEventListener("click", function () {
    stopped = true; clearTimeout(polling);
    send("bye", {}).finally(function () {
      if (pc) pc.close();
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      window.location.href = config.signals.replace(/room\/signals\/$/, "");
    });
  });
  start();
})();
