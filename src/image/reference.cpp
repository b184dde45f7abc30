// stub: implemented by its module owner
