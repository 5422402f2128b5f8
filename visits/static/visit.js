// 요있다: read the phone's position once and submit it with the page's one-time form token.
"use strict";
(function () {
  var button = document.getElementById("go");
  var form = document.getElementById("visit-form");
  var status = document.getElementById("status");
  if (!button || !form) { return; }

  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? "status error" : "status";
  }

  var MESSAGES = {
    1: "위치 권한이 거부되었습니다. 브라우저 설정에서 이 사이트의 위치 권한을 허용한 뒤 다시 누르세요.",
    2: "현재 위치를 알 수 없습니다. GPS(위치)를 켜고, 실내라면 창가나 밖에서 다시 누르세요.",
    3: "위치를 읽는 데 시간이 너무 걸립니다. 다시 누르세요."
  };

  if (!window.isSecureContext) {
    say("이 주소는 보안 연결(HTTPS)이 아니어서 휴대전화가 위치를 알려 주지 않습니다. 담당자에게 https:// 주소를 받으세요.", true);
    return;
  }
  if (!("geolocation" in navigator)) {
    say("이 브라우저는 위치 기능을 지원하지 않습니다.", true);
    return;
  }
  button.disabled = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    say("현재 위치를 확인하는 중입니다…", false);
    navigator.geolocation.getCurrentPosition(function (position) {
      var c = position.coords;
      document.getElementById("lat").value = String(c.latitude);
      document.getElementById("lon").value = String(c.longitude);
      document.getElementById("accuracy").value = String(c.accuracy);
      say("서명된 증빙을 만드는 중입니다…", false);
      form.submit();
    }, function (error) {
      say(MESSAGES[error.code] || "위치를 읽지 못했습니다. 다시 누르세요.", true);
      button.disabled = false;
    }, { enableHighAccuracy: true, timeout: 30000, maximumAge: 0 });
  });
})();
