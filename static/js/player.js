// The appearance page's player (faces/appearance_detail.html): it opens at the appearance's
// start (also where the #t= media fragment of its source is not honoured), the "Play from"
// button goes back there and plays, and a file this browser cannot show says so.
"use strict";

document.querySelectorAll("video[data-start]").forEach((video) => {
  const start = Number.parseFloat(video.dataset.start) || 0;
  const status = document.getElementById(video.dataset.status);
  const say = (text) => {
    if (status) {
      status.textContent = text;
      status.hidden = false;
    }
  };

  video.addEventListener("loadedmetadata", () => {
    if (video.currentTime + 0.25 < start) video.currentTime = start;
    if (video.videoWidth === 0) {
      say("This browser plays the sound of this file but not its picture; the frames of this appearance are shown below.");
    }
  }, { once: true });
  video.addEventListener("error", () => {
    say("This browser cannot play this movie's file; the frames of this appearance are shown below.");
  });

  document.querySelectorAll(`[data-play-from][data-player="${video.id}"]`).forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", () => {
      video.currentTime = Number.parseFloat(button.dataset.playFrom) || 0;
      video.play().catch(() => {});  // a refused autoplay still leaves the player at the start
    });
  });
});
