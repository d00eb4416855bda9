-- Issue 15, live streams and HLS. A media record may be a stream (model/streams.py): "live" (an
-- Icecast or Shoutcast mount, its alternates mounts on other servers) or "hls" (a playlist). NULL:
-- a stored file. A stream's size is 0 and its sha256 its identity (kind and primary URL), so the
-- NOT NULL columns of 0001 keep one meaning.
ALTER TABLE media ADD COLUMN stream TEXT;
-- What a live item played: the mounts it came from and for how long ([[url, ms], ...], JSON text),
-- NULL for a stored file's report.
ALTER TABLE reports ADD COLUMN mounts TEXT;
-- The stream title a device last told (ICY StreamTitle, POST /playing), shown as "now playing";
-- cleared when the device is handed another item.
ALTER TABLE device_activity ADD COLUMN stream_title TEXT;
