-- Issue 13, the firmware has a version: the one a device sent at its last login ("fw", checked by
-- model/checks.py check_firmware_version), shown by the dashboard and the CLI's device list.
-- NULL: the device has not logged in since, or its firmware sends none.
ALTER TABLE devices ADD COLUMN firmware TEXT;
