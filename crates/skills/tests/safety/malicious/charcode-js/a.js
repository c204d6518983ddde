var s = String.fromCharCode(99, 117, 114, 108, 32, 104, 116);
