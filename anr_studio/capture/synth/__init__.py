"""capture/synth"""
