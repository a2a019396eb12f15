// Attach a show's playback_url to a <video>: MP4/WebM natively, HLS natively where the
// browser can (Safari) and otherwise through the vendored hls.js (loaded only then).

export async function attachPlayer(video, url, hlsModuleUrl) {
  if (!url) {
    video.replaceWith(Object.assign(document.createElement("p"), {
      className: "player-empty", textContent: "No video for this show yet.",
    }));
    return null;
  }
  const isHls = /\.m3u8(\?|$)/i.test(url);
  if (!isHls || video.canPlayType("application/vnd.apple.mpegurl")) {
    video.dataset.player = isHls ? "native-hls" : "file";
    video.src = url;
    return null;
  }
  try {
    const mod = await import(hlsModuleUrl);
    const Hls = mod.default;
    if (!Hls.isSupported()) {
      video.dataset.player = "file";
      video.src = url;
      return null;
    }
    video.dataset.player = "hls.js";
    const hls = new Hls({ lowLatencyMode: true });
    hls.loadSource(url);
    hls.attachMedia(video);
    return hls;
  } catch (err) {
    video.dataset.player = "file";
    video.src = url;
    return null;
  }
}
