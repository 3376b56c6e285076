"""crmviewer: a web dashboard for browsing Vitec Mäklare CRM contacts through Vitec Connect."""

__version__ = "0.1.0"
