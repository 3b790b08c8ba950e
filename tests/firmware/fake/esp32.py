# A fake `esp32` for the unix port: data partitions as files partition-LABEL.bin (only those
# the test made exist), and NVS namespaces as folders nvs-NAMESPACE/ with one file per key.
import os

from _board import BlockFile, event

_ESP_ERR_NVS_NOT_FOUND = -4354


class Partition(BlockFile):
    TYPE_APP = 0
    TYPE_DATA = 1
    BOOT = 0
    RUNNING = 1

    def __init__(self, label, size):
        super().__init__("partition-" + label + ".bin", size)
        self.label = label

    @staticmethod
    def find(type=0, subtype=0xFF, label=None):
        if type != Partition.TYPE_DATA or label is None:
            return []
        try:
            size = os.stat("partition-" + label + ".bin")[6]
        except OSError:
            return []
        return [Partition(label, size)]


class NVS:
    def __init__(self, namespace):
        self._dir = "nvs-" + namespace
        try:
            os.mkdir(self._dir)
        except OSError:
            pass

    def get_blob(self, key, buf):
        try:
            with open(self._dir + "/" + key, "rb") as f:
                data = f.read()
        except OSError:
            raise OSError(_ESP_ERR_NVS_NOT_FOUND) from None
        buf[: len(data)] = data
        return len(data)

    def set_blob(self, key, value):
        tmp = self._dir + "/" + key + ".new"
        with open(tmp, "wb") as f:
            f.write(value)
        os.rename(tmp, self._dir + "/" + key)
        event("nvs", key)

    def commit(self):
        pass


def wake_on_ext0(pin, level):
    pass
