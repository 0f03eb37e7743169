// The hand-off inbox's live behaviour: waiting times that count up, the emergency alert (title, and a beep
// made with the Web Audio API, once per new emergency), the transcript kept scrolled to its end.
// The list and the transcript themselves refresh by htmx polling (the templates' hx-* attributes).
// Patient text is never touched here: only numbers and fixed Vietnamese labels are written, as text.
(function () {
  "use strict";
  var SEEN_KEY = "henkham.inbox.emergencies";
  var root = document.getElementById("inbox");
  if (!root) {
    return;
  }
  var baseTitle = root.getAttribute("data-page-title") || document.title;
  var audio = null;
  var soundButton = document.getElementById("sound-toggle");

  function seen() {
    try {
      return JSON.parse(window.sessionStorage.getItem(SEEN_KEY) || "[]");
    } catch (error) {
      return [];
    }
  }

  function remember(keys) {
    try {
      window.sessionStorage.setItem(SEEN_KEY, JSON.stringify(keys.slice(-200)));
    } catch (error) {
      // private mode: the alert may sound again after a reload, which is acceptable
    }
  }

  function context() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) {
      audio = new Context();
    }
    return audio;
  }

  function soundState() {
    if (soundButton) {
      var on = Boolean(audio && audio.state === "running");
      soundButton.setAttribute("aria-pressed", on ? "true" : "false");
      soundButton.textContent = on ? "Chuông báo cấp cứu: bật" : "Bật chuông báo cấp cứu";
    }
  }

  // Browsers start audio only after a gesture on the page: any click or key unlocks it.
  function unlock() {
    var ctx = context();
    if (ctx && ctx.state === "suspended") {
      ctx.resume().then(soundState, soundState);
    } else {
      soundState();
    }
  }
  document.addEventListener("click", unlock);
  document.addEventListener("keydown", unlock);

  function beep() {
    document.body.setAttribute("data-alerts", String(Number(document.body.getAttribute("data-alerts") || 0) + 1));
    var ctx = context();
    if (!ctx) {
      return;
    }
    if (ctx.state === "suspended") {
      ctx.resume().catch(function () {});
    }
    [0, 0.35, 0.7].forEach(function (offset) {
      var oscillator = ctx.createOscillator();
      var gain = ctx.createGain();
      oscillator.type = "square";
      oscillator.frequency.value = 880;
      gain.gain.value = 0.15;
      oscillator.connect(gain);
      gain.connect(ctx.destination);
      oscillator.start(ctx.currentTime + offset);
      oscillator.stop(ctx.currentTime + offset + 0.2);
    });
  }

  function checkEmergencies() {
    var list = document.getElementById("inbox-list");
    if (!list) {
      return;
    }
    var count = Number(list.getAttribute("data-emergencies") || 0);
    document.title = count > 0 ? "(" + count + ") CẤP CỨU · " + baseTitle : baseTitle;
    var known = seen();
    var fresh = false;
    list.querySelectorAll("[data-emergency-key]").forEach(function (item) {
      var key = item.getAttribute("data-emergency-key");
      if (known.indexOf(key) === -1) {
        known.push(key);
        fresh = true;
      }
    });
    if (fresh) {
      remember(known);
      beep();
    }
  }

  function label(minutes) {
    if (minutes < 1) {
      return "vừa xong";
    }
    if (minutes < 60) {
      return minutes + " phút";
    }
    if (minutes < 1440) {
      return Math.floor(minutes / 60) + " giờ " + (minutes % 60) + " phút";
    }
    return Math.floor(minutes / 1440) + " ngày";
  }

  function tick() {
    document.querySelectorAll("#inbox-list time.waited").forEach(function (node) {
      var since = Date.parse(node.getAttribute("datetime"));
      if (!isNaN(since)) {
        node.textContent = label(Math.max(0, Math.floor((Date.now() - since) / 60000)));
      }
    });
  }

  function scrollTranscript() {
    var transcript = document.getElementById("transcript");
    if (transcript) {
      transcript.scrollTop = transcript.scrollHeight;
    }
  }

  document.addEventListener("htmx:load", function (event) {
    var target = event.detail && event.detail.elt;
    if (target && target.id === "inbox-list") {
      checkEmergencies();
      tick();
    }
    if (target && target.id === "transcript") {
      scrollTranscript();
    }
  });
  if (soundButton) {
    soundButton.addEventListener("click", function () {
      unlock();
      if (audio && audio.state !== "running") {
        audio.resume().then(soundState, soundState);
      }
    });
  }
  checkEmergencies();
  scrollTranscript();
  window.setInterval(tick, 30000);
})();
