# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one problem form, problem list and error type, and its one port check.

Every check (the site model, the server roles' checks in ``services``) reports a problem as
``where: field: message``, collects them in one ``Problems`` list so each is listed once, and
refuses a site with one ``SiteModelError`` listing them all. No import of the site model here:
``site_model`` and ``services`` both import this module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.module_utils.appendix_d import (
    port_problem,
    value_text,
)

__all__ = ["Problems", "SiteModelError", "merged", "port_problem", "problem", "value_text"]


class SiteModelError(Exception):
    """The inventory does not describe a valid site; ``errors`` lists every problem."""

    def __init__(self, errors):
        self.errors = list(errors)
        super(SiteModelError, self).__init__(
            "invalid MPCPU site (%d error%s):\n- %s"
            % (len(self.errors), "" if len(self.errors) == 1 else "s", "\n- ".join(self.errors))
        )


def problem(where, field, message):
    """One problem, in the ``where: field: message`` form every check of the collection uses."""
    return "%s: %s: %s" % (where, field, message)


class Problems(list):
    """The one problem list: each problem once, in the order found."""

    def __init__(self):
        super(Problems, self).__init__()
        self._seen = set()

    def add(self, where, field, message):
        text = problem(where, field, message)
        if text not in self._seen:
            self._seen.add(text)
            self.append(text)

    def extend_texts(self, texts):
        """Take problems already in the ``where: field: message`` form, each once."""
        for text in texts:
            if text not in self._seen:
                self._seen.add(text)
                self.append(text)


def merged(texts):
    """The problems with one line for each ``field: message`` that several places share,
    naming them all (``mpcpu-a, mpcpu-b: mpcpu_firmware: ...``), in the order first found."""
    places = {}
    for text in texts:
        where, _sep, rest = text.partition(": ")
        places.setdefault(rest, []).append(where)
    return ["%s: %s" % (_places_text(wheres), rest) for rest, wheres in places.items()]


PLACES_SHOWN = 10


def _places_text(wheres):
    if len(wheres) <= PLACES_SHOWN:
        return ", ".join(wheres)
    return "%s and %d more" % (", ".join(wheres[:PLACES_SHOWN]), len(wheres) - PLACES_SHOWN)
