-- Issue 14, the device as a player. A media file's playback rate (bytes of the stored file per
-- second) and duration (ms), when known: found at registration (model/playback.py), carried in
-- the compact document as "rate" and "dur" so that a device can pace its sink. NULL: not known.
ALTER TABLE media ADD COLUMN rate INTEGER;
ALTER TABLE media ADD COLUMN dur INTEGER;
-- A report says how often and for how long the device's sink ran dry while it played the item.
ALTER TABLE reports ADD COLUMN underruns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reports ADD COLUMN underrun_ms INTEGER NOT NULL DEFAULT 0;
-- A report may carry the device's sequence number (one more per report it makes): a batch sent
-- again after a lost answer is then recognised report by report, even when it spans the whole
-- program and its first item is the device's current one again (db/devices.py add_report).
ALTER TABLE reports ADD COLUMN seq INTEGER;
CREATE INDEX reports_device_seq ON reports(device, seq);
