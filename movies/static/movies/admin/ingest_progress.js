/* Keeps the status and progress bars of the movie admin current without a reload.
 * Elements carry data-ingest-movie (status) and data-ingest-progress (bar); while any shown
 * movie is active (queued or running: data-ingest-active, the JSON's "active"), the
 * staff-only JSON view is polled every few seconds. */
(function () {
  "use strict";
  var INTERVAL_MS = 2500;

  function statusElements() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-ingest-movie]"));
  }

  function anyActive(elements) {
    return elements.some(function (el) { return el.dataset.ingestActive === "true"; });
  }

  function render(movie) {
    document.querySelectorAll('[data-ingest-movie="' + movie.id + '"]').forEach(function (el) {
      el.dataset.ingestStatus = movie.status;
      el.dataset.ingestActive = movie.active ? "true" : "false";
      el.className = "ingest-status ingest-status-" + movie.status;
      el.textContent = movie.status_display;
      el.title = movie.status === "failed" ? movie.last_error : "";
      var error = el.parentNode.querySelector(".ingest-error");
      if (error) {
        error.textContent = movie.last_error;
        error.hidden = !movie.last_error;
      }
    });
    var percent = Math.round(movie.progress * 100);
    document.querySelectorAll('[data-ingest-progress="' + movie.id + '"]').forEach(function (el) {
      var bar = el.querySelector("progress");
      var text = el.querySelector(".ingest-progress-text");
      if (bar) { bar.value = percent; bar.textContent = percent + "%"; }
      if (text) { text.textContent = percent + "%"; }
    });
    // Counts in the change list: the cells after the progress cell, when present.
    var row = document.querySelector('tr [data-ingest-progress="' + movie.id + '"]');
    if (row) {
      var tr = row.closest("tr");
      var frames = tr && tr.querySelector(".field-frames_sampled");
      var faces = tr && tr.querySelector(".field-faces_found");
      if (frames) { frames.textContent = movie.frames_sampled; }
      if (faces) { faces.textContent = movie.faces_found; }
    }
  }

  function poll() {
    var elements = statusElements();
    if (!elements.length || !anyActive(elements)) {
      window.setTimeout(poll, INTERVAL_MS * 4);
      return;
    }
    var ids = elements.map(function (el) { return el.dataset.ingestMovie; });
    var url = elements[0].dataset.ingestUrl + "?ids=" + encodeURIComponent(ids.join(","));
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { movies: [] }; })
      .then(function (data) { data.movies.forEach(render); })
      .catch(function () { /* the next poll tries again */ })
      .finally(function () { window.setTimeout(poll, INTERVAL_MS); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    window.setTimeout(poll, INTERVAL_MS);
  });
})();
